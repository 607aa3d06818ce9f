/**
 * RFC 7662 token introspection through `openid-client` (`tokenIntrospection`), for opaque tokens.
 *
 * One POST per uncached token to the introspection endpoint (configured `introspection.url`, else
 * the discovered `introspection_endpoint`) with `token_type_hint=access_token`, authenticated as
 * this resource server (`client_secret_basic` by default, or `client_secret_post`), bounded by
 * the smaller of `introspection.timeoutSeconds` (default 3) and `httpTimeoutSeconds`, and by the
 * response size cap. A configured `introspection.url` needs no discovery.
 *
 * An answer is accepted only when all of these hold:
 * - `active === true` (strictly; a non-boolean `active` is the server's fault, see below);
 * - it is a bearer access token (`assertBearerAccessToken`): no refresh or ID token marks
 *   (`token_type` or Hydra's `token_use` naming a refresh token, Keycloak's `typ` `Refresh`,
 *   `Offline`, `ID`, `Logout`, `at_hash`/`c_hash`/`s_hash`, a `token_use` other than access), no
 *   `cnf`, and a `token_type` (when sent) of a bearer access token;
 * - `iss`, when sent, equals the configured issuer exactly;
 * - `aud` (string or array) contains one of the accepted audiences (default: the resource); an
 *   answer without `aud` is refused unless `introspection.requireAudience` is `false`;
 * - `exp`, when sent, is later than `now − clockTolerance`;
 * - `nbf`, when sent, is no later than `now + clockTolerance`.
 * Any failure of these is the token's: 401 `invalid_token` (`token_inactive`, `type_not_allowed`,
 * `issuer_mismatch`, `audience_mismatch`, `token_expired`, `token_not_yet_valid`).
 *
 * Failures of the authorization server are never the token's fault:
 * - unreachable, timeout, 5xx, 429, any other unexpected status, HTML or malformed JSON, an
 *   oversized answer, `active` not a boolean, a member of the wrong type (`exp`, `nbf`, `iat` not a
 *   finite number; `iss`, `token_type` not a string; `aud` not a string or array of strings;
 *   `scope`/`scp` malformed) → {@link AuthUnavailableError} (503, reason
 *   `introspection_unavailable`) with `Retry-After` taken from the server's own header when it sent
 *   a valid one, and an `introspection_failed` event;
 * - the endpoint rejecting *our* credentials (401, 403, or an `invalid_client` error) →
 *   {@link AuthMisconfiguredError} (500, reason `introspection_rejected_credentials`) and a
 *   `misconfigured` event; no introspection endpoint known, or unusable client credentials →
 *   500 `invalid_options` and a `misconfigured` event.
 * - more than `introspection.maxConcurrent` calls would be under way → 503 at once
 *   (`introspection_unavailable`, `Retry-After: 1`) and an `introspection_failed` event (reason
 *   `too_many_calls`): a flood of distinct made-up tokens is not passed on one call each. A call
 *   made with `wanted` (a stream's token asked about again: `recheck.ts`) waits for a slot
 *   instead, in order: streams that age together are not cut by the guard's own bound. Those calls
 *   hold at most half the slots (at least one), so requests always have the rest (but with
 *   `maxConcurrent: 1`, while a recheck holds the one slot). Each call that ends frees one slot,
 *   and a recheck waits only while it cannot start, so one handed on per end is enough. One that
 *   no stream waits for any more when its turn comes (`wanted()` false: their clients left) is
 *   given up without a call (503 `introspection_unavailable`, which nobody receives).
 * Errors keep the `openid-client` failure as `cause` (for the application's own logs); neither
 * messages nor events carry the token, any part of it, or its hash.
 *
 * A discovered endpoint that answers with an HTTP error (but a refusal of our credentials) or not
 * JSON may have moved: the metadata is read again once the cooldown allows (`Discovery.moved`).
 * A JWT answer (RFC 9701) is never requested and is refused (503) by the fetch, never trusted
 * unverified. Deliberately not checked: `iat`, `sub`, `client_id` (passed into `AuthInfo` as they
 * are). Caching is the caller's (`verify/cache.ts`).
 */
import * as client from 'openid-client';
import {
  AuthMisconfiguredError,
  AuthUnavailableError,
  InvalidTokenError,
  McpAuthError,
  type McpAuthErrorReason,
} from '../errors.js';
import type { GuardEvent } from '../events.js';
import type { Config } from '../options.js';
import { assertBearerAccessToken, CheckedClaims, scopesOf } from './claims.js';
import { NO_INTROSPECTION_ENDPOINT, type Discovery } from './discovery.js';
import { describeFailure, FetchFailure } from './http.js';

/** Claims of an active token, validated; `exp` in seconds when the server sent one. */
export interface IntrospectedClaims {
  claims: Record<string, unknown>;
  exp: number | undefined;
}

type Emit = ((event: GuardEvent) => void) | undefined;

/** openid-client / oauth4webapi error codes meaning "we cannot even build the request": configuration. */
const CONFIG_CODES = new Set([
  'OAUTH_MISSING_SERVER_METADATA',
  'OAUTH_INVALID_SERVER_METADATA',
  'OAUTH_HTTP_REQUEST_FORBIDDEN',
  'OAUTH_REQUEST_PROTOCOL_FORBIDDEN',
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
]);

function invalid(reason: McpAuthErrorReason, description: string): InvalidTokenError {
  return new InvalidTokenError({ reason, description });
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
/**
 * The three forms of HTTP-date (RFC 9110 §5.6.7): IMF-fixdate (its day also in one digit, as Java's
 * `RFC_1123_DATE_TIME` writes it), RFC 850, asctime (which names no zone: GMT).
 */
const IMF_OR_RFC850 = new RegExp(`^(?:${DAY}, \\d{1,2} ${MONTH} \\d{4}|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \\d{2}-${MONTH}-\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`);

/**
 * Seconds from a `Retry-After` header (RFC 9110 §10.2.3: delay-seconds, or an HTTP-date in one of
 * its three forms), or undefined for anything else ("1.5", "-5", free text: as if none was sent).
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const date = IMF_OR_RFC850.test(v) ? Date.parse(v) : ASCTIME.test(v) ? Date.parse(`${v} GMT`) : Number.NaN;
  if (Number.isNaN(date)) return undefined;
  return Math.max(1, Math.ceil((date - nowMs) / 1000));
}

/** The HTTP response behind an openid-client failure, when there was one. */
function responseOf(err: unknown): Response | undefined {
  if (err instanceof client.ResponseBodyError || err instanceof client.WWWAuthenticateChallengeError) return err.response;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause instanceof Response ? cause : undefined;
}

/** Walk `cause` links (bounded) looking for a value matching `pick`. */
function findCause<T>(err: unknown, pick: (e: unknown) => T | undefined): T | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e !== null && e !== undefined; i++) {
    const hit = pick(e);
    if (hit !== undefined) return hit;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A short, token-free name of an outage, for the `introspection_failed` event. */
function outageReason(err: unknown, status: number | undefined): string {
  if (status !== undefined && status !== 200) return `http_${status}`;
  const failure = findCause(err, (e) => (e instanceof FetchFailure ? e : undefined));
  if (failure) return describeFailure(failure);
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'OAUTH_TIMEOUT':
    case 'OAUTH_ABORT':
      return 'timeout';
    case 'OAUTH_RESPONSE_IS_NOT_JSON':
    case 'OAUTH_PARSE_ERROR':
      return 'not_json';
    case 'OAUTH_INVALID_RESPONSE':
      return 'invalid_response';
    default:
      return typeof code === 'string' ? code.toLowerCase() : 'network';
  }
}

/**
 * Map what `tokenIntrospection` threw to the guard's error (and report it).
 * Never a 401: whatever went wrong here, the client's token is not known to be at fault.
 * `moved` is called when the endpoint answered, but not as an introspection endpoint (an HTTP
 * error other than a refusal of our credentials, or not JSON): it may have moved.
 */
function mapFailure(err: unknown, url: string, nowMs: number, emit: Emit, moved: () => void): McpAuthError {
  if (err instanceof McpAuthError) return err;
  const response = responseOf(err);
  const status = response?.status;
  const bodyError = err instanceof client.ResponseBodyError ? err.error : undefined;
  if (status === 401 || status === 403 || bodyError === 'invalid_client') {
    emit?.({ type: 'misconfigured', reason: 'introspection_rejected_credentials' });
    return new AuthMisconfiguredError({
      reason: 'introspection_rejected_credentials',
      description: 'The authorization server rejected this resource server\'s introspection credentials',
      cause: err,
    });
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONFIG_CODES.has(code) && (err instanceof client.ClientError || err instanceof TypeError)) {
    emit?.({ type: 'misconfigured', reason: code === 'OAUTH_MISSING_SERVER_METADATA' ? 'introspection_endpoint_missing' : 'introspection_client_invalid' });
    return new AuthMisconfiguredError({
      reason: 'invalid_options',
      description: code === 'OAUTH_MISSING_SERVER_METADATA'
        ? NO_INTROSPECTION_ENDPOINT
        : 'The introspection endpoint or client credentials are not usable',
      cause: err,
    });
  }
  const reason = outageReason(err, status);
  if (status !== undefined || reason === 'not_json') moved();
  emit?.(status === undefined ? { type: 'introspection_failed', url, reason } : { type: 'introspection_failed', url, reason, status });
  return new AuthUnavailableError({
    reason: 'introspection_unavailable',
    description: 'Token introspection is unavailable',
    retryAfterSeconds: parseRetryAfter(response?.headers.get('retry-after'), nowMs),
    cause: err,
  });
}

/** An answer with a member of the wrong type: the authorization server's fault (RFC 7662 §2.2), not the token's. */
class MalformedAnswer extends Error {}

function finiteTime(value: unknown, claim: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new MalformedAnswer(`${claim} is not a finite number`);
  return value;
}

/** Throws {@link MalformedAnswer} when a member the guard reads has the wrong type. */
function assertWellFormed(answer: Record<string, unknown>, scopeClaims: readonly string[]): void {
  for (const claim of ['iss', 'token_type'] as const) {
    const v = answer[claim];
    if (v !== undefined && v !== null && typeof v !== 'string') throw new MalformedAnswer(`${claim} is not a string`);
  }
  const aud = answer.aud;
  if (aud !== undefined && aud !== null && typeof aud !== 'string' && !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))) {
    throw new MalformedAnswer('aud is not a string or an array of strings');
  }
  finiteTime(answer.iat, 'iat');
  try {
    scopesOf(answer, scopeClaims);
  } catch {
    throw new MalformedAnswer('the scope claim is malformed');
  }
}

/**
 * Build the introspection verifier: `(token) => Promise<{ claims, exp }>` for active tokens that
 * pass the checks above, rejecting with an {@link McpAuthError} otherwise.
 */
export function introspectionVerifier(
  c: Config,
  discovery: Discovery,
  emit: Emit,
): (token: string, wanted?: () => boolean) => Promise<IntrospectedClaims> {
  const intro = c.introspection;
  const audiences = new Set(c.audiences);
  const requireAudience = intro?.requireAudience ?? true;
  const tolerance = c.clockTolerance;
  const issuer = c.issuer;
  const parameters = Object.freeze({ token_type_hint: 'access_token' });
  const maxConcurrent = intro?.maxConcurrent ?? Infinity;
  /**
   * Streams' rechecks (`recheck` calls) hold at most half the slots (at least one): requests always
   * have the rest (but with `maxConcurrent: 1`, when a recheck holds the one slot).
   */
  const recheckSlots = Math.max(1, Math.floor(maxConcurrent / 2));
  let underWay = 0;
  let rechecksUnderWay = 0;
  /** Rechecks waiting for a slot, first come first served: whether any stream still waits for each, and how to start or give it up. */
  const waiting: { wanted: () => boolean; start: () => void; giveUp: () => void }[] = [];

  /** Whether a recheck may start now. */
  const recheckMayStart = (): boolean => underWay < maxConcurrent && rechecksUnderWay < recheckSlots;

  /** Count a call that starts. */
  function take(recheck: boolean): void {
    underWay++;
    if (recheck) rechecksUnderWay++;
  }

  /**
   * A call ended: its slot is free, and goes to the first waiting recheck that may start and that a
   * stream still waits for (one whose streams' clients have all left is given up: nobody is asked).
   */
  function release(recheck: boolean): void {
    underWay--;
    if (recheck) rechecksUnderWay--;
    while (waiting.length > 0 && recheckMayStart()) {
      const next = waiting.shift()!;
      if (!next.wanted()) {
        next.giveUp();
        continue;
      }
      take(true);
      next.start();
      return;
    }
  }

  function check(answer: Record<string, unknown>, nowSeconds: number): IntrospectedClaims {
    if (answer.active !== true) throw invalid('token_inactive', 'The access token is not active');
    assertWellFormed(answer, c.scopeClaims);
    try {
      return checkActive(answer, nowSeconds);
    } catch (err) {
      // The answer's claims go with the refusal (decision events name its issuer and client).
      // (checkActive's refusals carry no cause of their own.)
      if (err instanceof InvalidTokenError) {
        throw new InvalidTokenError({ reason: err.reason, description: err.description, cause: new CheckedClaims(answer) });
      }
      throw err;
    }
  }

  /** The checks of an active, well-formed answer. */
  function checkActive(answer: Record<string, unknown>, nowSeconds: number): IntrospectedClaims {
    // Refresh and ID tokens, tokens bound to a key (Hydra's token_use, Keycloak's typ, cnf, DPoP).
    assertBearerAccessToken(answer, c.dpop !== 'off');
    // A member sent as null counts as absent, for iss as for aud, exp, nbf and token_type.
    if (answer.iss !== undefined && answer.iss !== null && answer.iss !== issuer) throw invalid('issuer_mismatch', 'The access token issuer is not accepted');
    const aud = answer.aud;
    if (aud === undefined || aud === null) {
      if (requireAudience) throw invalid('audience_mismatch', 'The access token names no audience');
    } else {
      const list = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
      if (!list.some((a) => typeof a === 'string' && audiences.has(a))) {
        throw invalid('audience_mismatch', 'The access token is not meant for this resource');
      }
    }
    const exp = finiteTime(answer.exp, 'exp');
    if (exp !== undefined && exp <= nowSeconds - tolerance) throw invalid('token_expired', 'The access token expired');
    const nbf = finiteTime(answer.nbf, 'nbf');
    if (nbf !== undefined && nbf > nowSeconds + tolerance) throw invalid('token_not_yet_valid', 'The access token is not yet valid');
    return { claims: answer, exp };
  }

  const givenUp = (): AuthUnavailableError => new AuthUnavailableError({ reason: 'introspection_unavailable', description: 'No stream waits for this answer any more' });

  /** `wanted`: given for a stream's recheck (it waits for a slot, while a stream waits for it). */
  return async function introspect(token: string, wanted?: () => boolean): Promise<IntrospectedClaims> {
    let config: client.Configuration;
    try {
      config = await discovery.introspection();
    } catch (err) {
      if (err instanceof AuthMisconfiguredError) {
        emit?.({ type: 'misconfigured', reason: err.description === NO_INTROSPECTION_ENDPOINT ? 'introspection_endpoint_missing' : 'introspection_client_invalid' });
      }
      throw err;
    }
    const url = String(config.serverMetadata().introspection_endpoint ?? '');
    if (wanted !== undefined) {
      // (One that waits is started, and counted, by release(), or given up there.)
      if (recheckMayStart()) take(true);
      else await new Promise<void>((start, fail) => waiting.push({ wanted, start, giveUp: () => fail(givenUp()) }));
    } else if (underWay < maxConcurrent) {
      take(false);
    } else {
      emit?.({ type: 'introspection_failed', url, reason: 'too_many_calls' });
      throw new AuthUnavailableError({ reason: 'introspection_unavailable', description: 'Too many token introspections are under way', retryAfterSeconds: 1 });
    }
    let answer: Record<string, unknown>;
    try {
      answer = (await client.tokenIntrospection(config, token, parameters)) as Record<string, unknown>;
    } catch (err) {
      // An endpoint that may have moved: the metadata may say where.
      throw mapFailure(err, url, c.clock(), emit, () => discovery.moved('introspection'));
    } finally {
      release(wanted !== undefined);
    }
    try {
      return check(answer, c.clock() / 1000);
    } catch (err) {
      if (!(err instanceof MalformedAnswer)) throw err;
      emit?.({ type: 'introspection_failed', url, reason: 'invalid_response' });
      throw new AuthUnavailableError({ reason: 'introspection_unavailable', description: 'The introspection answer is malformed', cause: err });
    }
  };
}
