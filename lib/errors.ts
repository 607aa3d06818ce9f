/**
 * The one error family of mcp-oauth-guard.
 *
 * Every failure the guard can produce is an {@link McpAuthError}: it carries a stable wire `code`
 * (the `error.data.code` of the JSON-RPC body), the HTTP `status`, the RFC 6750 `error` code when
 * the failure is the token's (or the request's) fault, and a finer `reason` from a closed list for
 * logs and metrics. Tests and applications branch on `code` and `reason`, never on `message`.
 *
 * Messages and descriptions never contain the token or any part of it. The underlying failure (a
 * `jose` error, a network error) is kept as `cause` for the application's own logs.
 */

/** Wire codes: `error.data.code` of the JSON-RPC error body. */
export type McpAuthErrorCode =
  | 'UNAUTHORIZED'
  | 'INVALID_REQUEST'
  | 'FORBIDDEN'
  | 'AUTH_UNAVAILABLE'
  | 'AUTH_MISCONFIGURED'
  | 'SESSION_NOT_FOUND'
  | 'HEADER_MISMATCH'
  | 'CONFIG_INVALID';

/** Wire codes that reach a response (`CONFIG_INVALID` is answered as `AUTH_MISCONFIGURED`). */
export type WireCode = Exclude<McpAuthErrorCode, 'CONFIG_INVALID'>;

/** Challenge error codes: RFC 6750 §3.1's, and RFC 9449's `invalid_dpop_proof` (§7.1) and `use_dpop_nonce` (§9). */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof' | 'use_dpop_nonce';

/** Finer, stable reasons (closed list) for logs, metrics and tests. */
export type McpAuthErrorReason =
  // 401 without error=
  | 'missing_token'
  // 400
  | 'malformed_header'
  | 'multiple_tokens'
  | 'token_in_query'
  | 'token_in_body'
  | 'invalid_body'
  | 'unsupported_media_type'
  | 'body_too_large'
  | 'invalid_tool_call'
  | 'header_mismatch'
  // 401 invalid_token
  | 'token_too_large'
  | 'malformed_token'
  | 'unsupported_token_type'
  | 'algorithm_not_allowed'
  | 'signature_invalid'
  | 'key_not_found'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'claim_invalid'
  | 'type_not_allowed'
  | 'token_inactive'
  | 'token_bound_to_key'
  | 'token_not_bound'
  // 401 invalid_dpop_proof
  | 'dpop_proof_invalid'
  | 'dpop_proof_replayed'
  | 'dpop_key_mismatch'
  // 401 use_dpop_nonce
  | 'dpop_nonce_missing'
  | 'dpop_nonce_invalid'
  // 403
  | 'insufficient_scope'
  | 'tool_not_allowed'
  | 'task_not_owned'
  // 404
  | 'session_not_owned'
  // 503 / 500
  | 'discovery_failed'
  | 'jwks_unavailable'
  | 'introspection_unavailable'
  | 'dpop_replay_record_full'
  | 'introspection_rejected_credentials'
  | 'invalid_options';

/**
 * JSON-RPC error codes: the guard's own in MCP's implementation-defined range (-32000..-32019), and
 * -32020, which MCP 2026-07-28 reserves (with -32021..-32099) for the spec's own: `HeaderMismatch`,
 * sent with exactly that meaning.
 */
export const JSONRPC_CODES: Readonly<Record<WireCode, number>> =
  Object.freeze({
    UNAUTHORIZED: -32000,
    FORBIDDEN: -32003,
    INVALID_REQUEST: -32004,
    AUTH_UNAVAILABLE: -32005,
    AUTH_MISCONFIGURED: -32006,
    SESSION_NOT_FOUND: -32007,
    HEADER_MISMATCH: -32020,
  });

interface ErrorInit {
  reason: McpAuthErrorReason;
  description?: string;
  cause?: unknown;
}

/** Base class of every error the guard throws or answers with. */
export class McpAuthError extends Error {
  /** Stable wire code (`error.data.code`). */
  readonly code: McpAuthErrorCode;
  /** HTTP status the guard answers with. */
  readonly status: number;
  /** RFC 6750 error code for the challenge, or `undefined` when the challenge carries none. */
  readonly bearerError: BearerErrorCode | undefined;
  /** Stable fine-grained reason. */
  readonly reason: McpAuthErrorReason;
  /** Human-readable, token-free description (used as `error_description`). */
  readonly description: string;
  /**
   * The underlying failure, when there is one (a fetch error, `jose`'s error). Declared here so
   * that projects compiling without the ES2022 library still see it; never sent on the wire.
   */
  declare readonly cause?: unknown;

  constructor(
    code: McpAuthErrorCode,
    status: number,
    bearerError: BearerErrorCode | undefined,
    init: ErrorInit,
    defaultDescription: string,
  ) {
    const description = init.description ?? defaultDescription;
    super(description, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.bearerError = bearerError;
    this.reason = init.reason;
    this.description = description;
  }
}

/** No bearer credentials at all: 401, challenge without `error=` (RFC 6750 §3.1). */
export class MissingTokenError extends McpAuthError {
  constructor(init: Partial<ErrorInit> = {}) {
    super('UNAUTHORIZED', 401, undefined, { reason: 'missing_token', ...init }, 'Authorization required');
  }
}

/** Malformed request (header syntax, two tokens, token in the query, unreadable body): 400. */
export class InvalidRequestError extends McpAuthError {
  constructor(init: ErrorInit, status: 400 | 413 | 415 = 400) {
    super('INVALID_REQUEST', status, status === 400 ? 'invalid_request' : undefined, init, 'Invalid request');
  }
}

/** The token is at fault (signature, expiry, issuer, audience, type, inactive): 401 `invalid_token`. */
export class InvalidTokenError extends McpAuthError {
  constructor(init: ErrorInit) {
    super('UNAUTHORIZED', 401, 'invalid_token', init, 'The access token is invalid');
  }
}

/**
 * The DPoP proof of a request (RFC 9449 §4.3) is missing, malformed, used before, or not made with
 * the key the token is bound to: 401 `invalid_dpop_proof` (RFC 9449 §7.1), challenged with the
 * `DPoP` scheme.
 */
export class InvalidDpopProofError extends McpAuthError {
  constructor(init: Partial<ErrorInit> & { description: string }) {
    super('UNAUTHORIZED', 401, 'invalid_dpop_proof', { reason: 'dpop_proof_invalid', ...init }, 'The DPoP proof is invalid');
  }
}

/**
 * With `dpopNonceSeconds` set, a DPoP proof without a server nonce this guard accepts (none, an
 * expired one, or one it never handed out): 401 `use_dpop_nonce` (RFC 9449 §9), challenged with
 * the `DPoP` scheme; the response's `DPoP-Nonce` header is the nonce to sign the next proof with.
 */
export class UseDpopNonceError extends McpAuthError {
  constructor(init: Partial<ErrorInit> & { reason: 'dpop_nonce_missing' | 'dpop_nonce_invalid' }) {
    super('UNAUTHORIZED', 401, 'use_dpop_nonce', init, 'The DPoP proof must carry the nonce this server provides (DPoP-Nonce)');
  }
}

/** The token lacks scopes: 403 `insufficient_scope`. `scope` is the challenge's `scope=` (or none). */
export class InsufficientScopeError extends McpAuthError {
  /** Scopes named in the challenge; empty when no scope can help (an unmapped tool). */
  readonly scope: readonly string[];
  /** Tool name when the denial is a tool's. */
  readonly tool: string | undefined;
  constructor(init: ErrorInit & { scope: readonly string[]; tool?: string }) {
    super('FORBIDDEN', 403, 'insufficient_scope', init, 'The access token lacks the required scope');
    this.scope = init.scope;
    this.tool = init.tool;
  }
}

/** The authorization server, its JWKS or its introspection endpoint cannot be used (or the DPoP replay record has no room): 503. */
export class AuthUnavailableError extends McpAuthError {
  /** Seconds a client should wait (the `Retry-After` header). */
  readonly retryAfterSeconds: number;
  constructor(init: ErrorInit & { retryAfterSeconds?: number }) {
    super('AUTH_UNAVAILABLE', 503, undefined, init, 'The authorization server is unavailable');
    const r = init.retryAfterSeconds;
    this.retryAfterSeconds = r !== undefined && Number.isFinite(r) && r > 0 ? Math.min(Math.ceil(r), 3600) : 5;
  }
}

/** The authorization server rejects this guard's own credentials: 500 (never the client's fault). */
export class AuthMisconfiguredError extends McpAuthError {
  constructor(init: ErrorInit) {
    super('AUTH_MISCONFIGURED', 500, undefined, init, 'The resource server is misconfigured');
  }
}

/**
 * The request names an `Mcp-Session-Id` that is not its token's identity's (bound to another, or
 * never seen issued: `lib/policy/bindings.ts`): 404,
 * as the MCP transport answers an unknown session (the client starts a new one), no challenge (the
 * token is fine). Nothing tells the sender that the session exists.
 */
export class SessionNotFoundError extends McpAuthError {
  constructor(init: Partial<ErrorInit> = {}) {
    super('SESSION_NOT_FOUND', 404, undefined, { reason: 'session_not_owned', ...init }, 'Session not found');
  }
}

/**
 * An MCP 2026-07-28 standard header (`Mcp-Method`, `Mcp-Name`) that does not name what the body
 * does, where the guard decides on the body (`lib/policy/standard-headers.ts`): 400, JSON-RPC
 * -32020 (the spec's `HeaderMismatch`), `Bearer error="invalid_request"` like every other 400.
 */
export class HeaderMismatchError extends McpAuthError {
  constructor(init: Partial<ErrorInit> = {}) {
    super('HEADER_MISMATCH', 400, 'invalid_request', { reason: 'header_mismatch', ...init }, 'The MCP standard headers do not match the request body');
  }
}

/** Bad options (or environment variables); `problems` lists every one found. */
export class ConfigError extends McpAuthError {
  /** One line per problem, each naming the option or variable. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(
      'CONFIG_INVALID',
      500,
      undefined,
      { reason: 'invalid_options' },
      `mcp-oauth-guard: invalid configuration:\n  - ${problems.join('\n  - ')}`,
    );
    this.problems = Object.freeze([...problems]);
  }
}

/**
 * The guard's answer to anything thrown: an {@link McpAuthError} as it is; anything else (a bug) as a
 * 401 `invalid_token` (`malformed_token`), failing closed without detail.
 */
export function asMcpAuthError(thrown: unknown): McpAuthError {
  return thrown instanceof McpAuthError ? thrown : new InvalidTokenError({ reason: 'malformed_token', cause: thrown });
}

/** The wire code (`error.data.code`) of an error. */
export function wireCodeOf(err: McpAuthError): WireCode {
  return err.code === 'CONFIG_INVALID' ? 'AUTH_MISCONFIGURED' : err.code;
}

/** True for any error of this family. */
export function isMcpAuthError(value: unknown): value is McpAuthError {
  return value instanceof McpAuthError;
}
