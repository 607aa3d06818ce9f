/**
 * Decision and key/introspection events (`onEvent`). Plain objects, never token material:
 * no token, no part of it, no hash of it. A listener that throws never affects a request.
 *
 * Without a listener nothing here runs: `makeEmitter(undefined)` is `undefined`, and the
 * middleware builds no trace, reads no clock and decodes nothing.
 */
import { decodeProtectedHeader, errors as joseErrors } from 'jose';
import { asMcpAuthError, InsufficientScopeError, McpAuthError, wireCodeOf, type McpAuthErrorCode, type McpAuthErrorReason } from './errors.js';
import { CheckedClaims, clientIdOf } from './verify/claims.js';
import type { AuthInfo } from './types.js';

/** Kind of token a decision was about (`none` when the request carried no usable bearer token). */
export type TokenKind = 'jwt' | 'opaque' | 'none';

/**
 * One event. `type` tells which fields are set.
 *
 * - `allow` / `deny`: one per request decided by `protect()` (and a `deny` from a later
 *   `requireScopes()`). `code`, `reason`, `status` are the wire code, the stable reason and the
 *   HTTP status of the answer. `issuer`, `clientId` come from verified claims only (on a `deny`,
 *   only when the signature or introspection was checked before the refusal, e.g. an expired
 *   token or a wrong audience). `kid` is the JWS header's `kid` (on a `deny` it may be the
 *   unverified value the token named). `tool` is the `tools/call` name of a single JSON-RPC
 *   message, when known. `cached` is true when the verification cache answered.
 *   `durationMs` is the time spent in the guard (`performance.now()`, not the injected clock).
 * - `keys_refreshed` / `keys_refresh_failed` / `stale_keys_served`: the JWKS life cycle.
 * - `introspection_failed`: the introspection endpoint could not be used (outage, bad answer).
 * - `misconfigured`: the authorization server refused this guard's own credentials.
 * - `list_unfiltered`: a `tools/list` (or prompt/resource/resource template/task list) answer could not be filtered,
 *   a task-creating `tools/call` answer could not be read (its task is not bound), or a 2026
 *   `resources/read` answer under `resourceScopes` could not be marked `cacheScope: "private"`.
 * - `stream_ended`: a GET event stream or a `subscriptions/listen` answer was ended at its first
 *   write at or after its token's `exp` (with `clockTolerance`), or, for an introspected token, when
 *   asking the authorization server again did not keep it going ({@link StreamEndReason});
 *   `issuer`, `clientId` as for `allow`.
 */
export type GuardEvent =
  | { type: 'allow'; tokenKind: TokenKind; issuer?: string; kid?: string; clientId?: string; tool?: string; cached: boolean; durationMs: number }
  | { type: 'deny'; code: McpAuthErrorCode; reason: McpAuthErrorReason; status: number; tokenKind: TokenKind; issuer?: string; kid?: string; clientId?: string; tool?: string; cached: boolean; durationMs: number }
  | { type: 'keys_refreshed'; issuer: string; jwksUri: string; keyCount: number }
  | { type: 'keys_refresh_failed'; issuer: string; jwksUri: string; reason: string }
  | { type: 'stale_keys_served'; issuer: string; jwksUri: string; ageSeconds: number }
  | { type: 'introspection_failed'; url: string; reason: string; status?: number }
  | { type: 'misconfigured'; reason: MisconfiguredReason }
  | { type: 'list_unfiltered'; method: string; reason: ListUnfilteredReason }
  | { type: 'stream_ended'; reason: StreamEndReason; issuer?: string; clientId?: string };

/**
 * Why `protect()` ended a long-lived stream: its token's `exp` (+ `clockTolerance`) passed
 * (`token_expired`, also when asking again found it expired); or, for an introspected token asked
 * about again once its answer was older than `cacheMaxAgeSeconds`, the authorization server now
 * refuses it (`token_revoked`), names another identity, other scopes or another bound key
 * (`token_changed`), or could not be asked (`recheck_failed`: an outage, or the guard's own
 * credentials refused).
 */
export type StreamEndReason = 'token_expired' | 'token_revoked' | 'token_changed' | 'recheck_failed';

/** Why the authorization server would not take this guard's own introspection settings. */
export type MisconfiguredReason = 'introspection_rejected_credentials' | 'introspection_endpoint_missing' | 'introspection_client_invalid';
/** Why a list answer passed unfiltered: not JSON or SSE of JSON, compressed, another shape, over 16 MiB held. */
export type ListUnfilteredReason = 'unparseable' | 'encoded' | 'unexpected_shape' | 'too_large';

/** An event listener, as given to the `onEvent` option (an `async` one is fine: it is not awaited). */
export type GuardEventListener = (event: GuardEvent) => void;

function ignore(): void {}

/**
 * Build an emitter that calls `listener` and swallows what it throws, synchronously or as a
 * rejected promise (an `async` listener whose sink is down must not become an unhandled rejection,
 * which ends a Node process); `undefined` when there is no listener.
 */
export function makeEmitter(listener: GuardEventListener | undefined): GuardEventListener | undefined {
  if (!listener) return undefined;
  return function emit(event: GuardEvent): void {
    try {
      const result: unknown = listener(event);
      // A promise or any thenable: its rejection is swallowed too.
      if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') (result as PromiseLike<unknown>).then(undefined, ignore);
    } catch {
      // A listener's failure never affects a request.
    }
  };
}

/**
 * What the middleware records about one request while deciding it, only when a listener is set.
 * Holds the token so the event can name its kind and `kid`; the token itself never leaves here.
 */
export interface DecisionTrace {
  /** `performance.now()` when the guard started on the request. */
  readonly startedAt: number;
  /** The bearer token, once extracted. */
  token: string | undefined;
  /** True when the verification cache answered (set by the verifier). */
  cached: boolean;
}

/** Start a trace (call only when a listener is set). */
export function startTrace(): DecisionTrace {
  return { startedAt: performance.now(), token: undefined, cached: false };
}

const MAX_FIELD = 256;
const MAX_KID = 128;

function cap(value: unknown, max = MAX_FIELD): string | undefined {
  return typeof value === 'string' && value !== '' ? (value.length > max ? value.slice(0, max) : value) : undefined;
}

/** The `stream_ended` event of a stream `protect()` ended (issuer and client capped as for `allow`). */
export function streamEndedEvent(info: AuthInfo, reason: StreamEndReason): GuardEvent {
  const event: Record<string, unknown> = { type: 'stream_ended', reason };
  const issuer = cap((info.extra as { iss?: unknown } | undefined)?.iss);
  const clientId = cap(info.clientId);
  if (issuer !== undefined) event.issuer = issuer;
  if (clientId !== undefined) event.clientId = clientId;
  return event as GuardEvent;
}

/** The `tools/call` tool name of a single JSON-RPC message, else `undefined` (batches name no tool). */
export function toolNameOf(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const msg = body as { method?: unknown; params?: unknown };
  if (msg.method !== 'tools/call' || msg.params === null || typeof msg.params !== 'object') return undefined;
  return cap((msg.params as { name?: unknown }).name);
}

/** Claims that a refusal was based on, when they were verified first (`jose` claim failures carry them). */
function verifiedClaimsOf(err: McpAuthError): Record<string, unknown> | undefined {
  const cause = err.cause;
  // An introspection answer refused after `active: true` (its checks).
  if (cause instanceof CheckedClaims) return cause.claims;
  // jose raises these (with the payload) only after the signature verified.
  if (!(cause instanceof joseErrors.JWTClaimValidationFailed) && !(cause instanceof joseErrors.JWTExpired)) return undefined;
  const payload: unknown = cause.payload;
  return payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>) : undefined;
}

/** What an event says of a token: its kind and (JWT) `kid` (from the token and the format), its issuer and client (from its claims). */
interface TokenFacts { tokenKind: TokenKind; kid: string | undefined; issuer: string | undefined; clientId: string | undefined }

/**
 * The facts of allowed tokens, per cached `AuthInfo` (one per token and guard): an `allow` of a
 * token the cache answered decodes nothing. Entries go with the `AuthInfo` (a WeakMap).
 */
const allowedFacts = new WeakMap<AuthInfo, TokenFacts>();

function tokenFacts(token: string | undefined, tokenFormat: 'jwt' | 'opaque' | 'auto'): Pick<TokenFacts, 'tokenKind' | 'kid'> {
  if (token === undefined) return { tokenKind: 'none', kid: undefined };
  let header: { kid?: unknown } | undefined;
  if (tokenFormat !== 'opaque' && token.indexOf('.') > 0) {
    try {
      header = decodeProtectedHeader(token);
    } catch {
      header = undefined;
    }
  }
  const tokenKind = tokenFormat === 'jwt' || (tokenFormat === 'auto' && header !== undefined) ? 'jwt' : 'opaque';
  return { tokenKind, kid: tokenKind === 'jwt' ? cap(header?.kid, MAX_KID) : undefined };
}

/**
 * Build the `allow` (no `err`) or `deny` event of a decision. `tokenFormat` is the configured
 * format (`auto` is resolved by the token's shape, as the verifier does). Never copies the token.
 */
export function decisionEvent(
  trace: DecisionTrace,
  tokenFormat: 'jwt' | 'opaque' | 'auto',
  info: AuthInfo | undefined,
  err: unknown,
  body: unknown,
): GuardEvent {
  const durationMs = Math.round((performance.now() - trace.startedAt) * 1000) / 1000;
  let facts: TokenFacts | undefined = err === undefined && info !== undefined ? allowedFacts.get(info) : undefined;
  if (facts === undefined) {
    const claims = info ? info.extra : err instanceof McpAuthError ? verifiedClaimsOf(err) : undefined;
    facts = {
      ...tokenFacts(trace.token, tokenFormat),
      issuer: claims ? cap(claims.iss) : undefined,
      clientId: cap(info ? info.clientId : claims ? clientIdOf(claims) : undefined),
    };
    if (err === undefined && info !== undefined && trace.token === info.token) allowedFacts.set(info, facts);
  }
  const tool = (err instanceof InsufficientScopeError ? cap(err.tool) : undefined) ?? toolNameOf(body);

  // Built field by field (no `delete`: the event stays a fast object); absent facts are left out.
  let event: Record<string, unknown>;
  if (err === undefined) {
    event = { type: 'allow', tokenKind: facts.tokenKind };
  } else {
    // What the responder answers (unknown errors as a 401 malformed token).
    const e = asMcpAuthError(err);
    event = { type: 'deny', code: wireCodeOf(e), reason: e.reason, status: e.status, tokenKind: facts.tokenKind };
  }
  if (facts.issuer !== undefined) event.issuer = facts.issuer;
  if (facts.kid !== undefined) event.kid = facts.kid;
  if (facts.clientId !== undefined) event.clientId = facts.clientId;
  if (tool !== undefined) event.tool = tool;
  event.cached = trace.cached;
  event.durationMs = durationMs;
  return event as GuardEvent;
}
