/**
 * JWT access token validation with `jose`.
 *
 * Checks, in order: compact JWS shape (a JWE or anything else is refused), no `crit`, `alg` in the
 * allowlist (never `none` or HS*), the signature against the remote key set, `iss` exactly, `aud`
 * containing an accepted audience exactly, `exp` present and finite, `nbf` and `iat` (not in the
 * future) with `clockTolerance`, and `typ` (`at+jwt`, `application/at+jwt`, `JWT` or absent; only `at+jwt` with
 * `strict`, which also requires `sub`, `client_id`, `iat`, `jti` per RFC 9068).
 *
 * A token bound to a key (`cnf`: DPoP, mTLS) is refused: the proof of possession is not checked
 * here, and such a token is no bearer token.
 *
 * Deliberately not checked: header `jwk`/`jku`/`x5u`/`x5c` (never used to find keys), revocation
 * (a JWT is valid until `exp`).
 */
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { InvalidTokenError, McpAuthError, type McpAuthErrorReason } from '../errors.js';
import type { Config } from '../options.js';
// The module's own reference: an application's fake timers (which patch the global) never stall a verification.
import { setImmediate } from 'node:timers';
import { assertBearerAccessToken } from './claims.js';
import type { RemoteKeySet, ResolvedKey } from './jwks.js';
import { isCanonicalSignature, nativeKey, validateClaims, verifySignature } from './signature.js';

/** The verified parts of a JWT. */
export interface VerifiedJwt {
  payload: JWTPayload;
  header: ProtectedHeaderParameters;
}

const JWS_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const ACCEPTED_TYP = new Set(['at+jwt', 'application/at+jwt', 'jwt', 'application/jwt']);

/** True when a token has the shape of a compact JWS whose header decodes (used by `tokenFormat: 'auto'`). */
export function looksLikeJws(token: string): boolean {
  if (!JWS_SHAPE.test(token)) return false;
  try {
    return typeof decodeProtectedHeader(token).alg === 'string';
  } catch {
    return false;
  }
}

function invalid(reason: McpAuthErrorReason, description: string, cause?: unknown): InvalidTokenError {
  return new InvalidTokenError({ reason, description, cause });
}

/** Internal switches of {@link jwtVerifier} (tests compare both signature paths). */
export interface JwtVerifierInternals {
  /** Check signatures with `node:crypto` where possible (see `signature.ts`). Default true. */
  native?: boolean;
}

/** Build the JWT verifier for a configuration and key set. */
export function jwtVerifier(c: Config, keys: Pick<RemoteKeySet, 'getKeys' | 'keysAfterSignatureFailure' | 'generation'>, internals: JwtVerifierInternals = {}): (token: string) => Promise<VerifiedJwt> {
  const algorithms = new Set(c.algorithms);
  const audience = [...c.audiences];
  const requiredClaims = c.strict ? ['exp', 'iss', 'aud', 'sub', 'client_id', 'iat', 'jti'] : ['exp', 'iss', 'aud'];
  const native = internals.native !== false;
  // Signatures are checked in the check phase (setImmediate) of the event-loop turn in which their
  // requests arrived, all of that turn's together; their requests then continue together. Under
  // load this keeps the crypto and the HTTP code each warm and lets responses leave in bursts
  // (fewer wake-ups): measurably faster than checking each inline (README, Benchmarks). It costs
  // at most one loop turn of latency; no thread pool is involved.
  let turn: Promise<void> | undefined;
  function nextTurn(): Promise<void> {
    return (turn ??= new Promise<void>((resolve) => setImmediate(() => { turn = undefined; resolve(); })));
  }

  /**
   * Verify with one resolved key: the synchronous signature path when the key is one it handles
   * exactly as `jose` would, else `jose.jwtVerify`. Same order of checks as `jose`: signature, then
   * `jose`'s claim rules.
   */
  async function verifyWith(token: string, alg: string, key: ResolvedKey, jws: { signingInput: string; payload: string; signature: string }): Promise<JWTPayload> {
    const options = {
      algorithms: c.algorithms as string[],
      issuer: c.issuer,
      audience,
      clockTolerance: c.clockTolerance,
      currentDate: new Date(c.clock()),
      requiredClaims,
    };
    if (!isCanonicalSignature(alg, key, jws.signature)) throw new joseErrors.JWSSignatureVerificationFailed();
    const nk = native ? nativeKey(alg, key) : undefined;
    if (nk === undefined) return (await jwtVerify(token, key, options)).payload;
    await nextTurn();
    verifySignature(nk, jws.signingInput, jws.signature);
    return validateClaims(jws.payload, options);
  }

  return async function verifyJwt(token: string): Promise<VerifiedJwt> {
    if (!JWS_SHAPE.test(token)) {
      throw invalid(token.split('.').length === 5 ? 'unsupported_token_type' : 'malformed_token', 'The access token is not a signed JWT');
    }
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
    } catch (err) {
      throw invalid('malformed_token', 'The access token header is malformed', err);
    }
    if (typeof header.alg !== 'string' || !algorithms.has(header.alg)) {
      throw invalid('algorithm_not_allowed', 'The access token algorithm is not accepted');
    }
    if (header.crit !== undefined) throw invalid('malformed_token', 'The access token uses critical header parameters');
    if (header.kid !== undefined && typeof header.kid !== 'string') throw invalid('malformed_token', 'The access token kid is not a string');
    const typ = header.typ;
    if (typ !== undefined) {
      const t = typeof typ === 'string' ? typ.toLowerCase() : '';
      if (c.strict ? t !== 'at+jwt' && t !== 'application/at+jwt' : !ACCEPTED_TYP.has(t)) {
        throw invalid('type_not_allowed', 'The token is not an access token');
      }
    } else if (c.strict) {
      throw invalid('type_not_allowed', 'The token is not an RFC 9068 access token');
    }

    const [protectedPart, payloadPart, signature] = token.split('.') as [string, string, string];
    const flattened = { protected: protectedPart, payload: payloadPart, signature };
    const jws = { signingInput: `${protectedPart}.${payloadPart}`, payload: payloadPart, signature };
    let payload: JWTPayload | undefined;
    let failure: unknown;
    /** Try each candidate key in turn; `payload` is set by the first that verifies. */
    const tryKeys = async (candidates: readonly ResolvedKey[]): Promise<void> => {
      for (const key of candidates) {
        try {
          payload = await verifyWith(token, header.alg as string, key, jws);
          return;
        } catch (err) {
          // A claim failure comes after a good signature: final. Otherwise (a token without kid that
          // fits several keys) this key could not verify the token: try the next one. Reported at the
          // end: a signature failure if any key gave one, else the first failure.
          if (err instanceof joseErrors.JWTClaimValidationFailed || err instanceof joseErrors.JWTExpired || err instanceof joseErrors.JWTInvalid || err instanceof McpAuthError) throw mapJoseError(err);
          if (failure === undefined || (err instanceof joseErrors.JWSSignatureVerificationFailed && !(failure instanceof joseErrors.JWSSignatureVerificationFailed))) failure = err;
        }
      }
    };
    try {
      const generation = keys.generation;
      await tryKeys(await keys.getKeys(header, flattened));
      // A token without kid that no cached key verifies may be signed by a key rotated in since the
      // last fetch (a kid names a new key; without one, the old key of the type still "fits"): the
      // key set's refetch-once-per-cooldown rule decides, as for an unknown kid.
      if (payload === undefined && header.kid === undefined && failure instanceof joseErrors.JWSSignatureVerificationFailed) {
        await tryKeys(await keys.keysAfterSignatureFailure(header, flattened, generation));
      }
    } catch (err) {
      throw mapJoseError(err);
    }
    if (payload === undefined) throw mapJoseError(failure);
    assertBearerAccessToken(payload, c.dpop !== 'off');
    // jose accepts any number; Infinity (JSON 1e400) and NaN-like values are not a time.
    const bad = badTimeClaim(payload);
    if (bad !== undefined) throw invalid('claim_invalid', `The ${bad} claim is not a finite number`);
    // jose checks iat only against a maximum age; a token issued in the future is not valid yet.
    if (payload.iat !== undefined && payload.iat > c.clock() / 1000 + c.clockTolerance) {
      throw invalid('token_not_yet_valid', 'The access token was issued in the future');
    }
    if (c.strict) {
      for (const claim of ['sub', 'client_id', 'jti'] as const) {
        if (typeof payload[claim] !== 'string' || payload[claim] === '') throw invalid('claim_invalid', `The ${claim} claim is missing or not a string`);
      }
    }
    return { payload, header };
  };
}

/** The first of `exp`, `nbf`, `iat` present but not a finite number (RFC 7519 §2: a NumericDate is a JSON number). */
function badTimeClaim(payload: Record<string, unknown> | undefined): string | undefined {
  for (const claim of ['exp', 'nbf', 'iat']) {
    const v = payload?.[claim];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) return claim;
  }
  return undefined;
}

/** Map a `jose` (or key-set) failure to the token's fault, keeping the guard's own errors. */
export function mapJoseError(err: unknown): McpAuthError {
  if (err instanceof McpAuthError) return err;
  if (err instanceof joseErrors.JWTExpired || err instanceof joseErrors.JWTClaimValidationFailed) {
    // A time claim that is no number (nbf: "…", exp: -1e400) is malformed, not early or late.
    const bad = badTimeClaim(err.payload as Record<string, unknown>);
    if (bad !== undefined) return invalid('claim_invalid', `The ${bad} claim is not a finite number`, err);
  }
  if (err instanceof joseErrors.JWTExpired) return invalid('token_expired', 'The access token expired', err);
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'iss':
        return invalid('issuer_mismatch', 'The access token issuer is not accepted', err);
      case 'aud':
        return invalid('audience_mismatch', 'The access token is not meant for this resource', err);
      case 'nbf':
        return invalid('token_not_yet_valid', 'The access token is not yet valid', err);
      case 'iat':
        return invalid(err.reason === 'check_failed' ? 'token_not_yet_valid' : 'claim_invalid', 'The access token iat claim is invalid', err);
      default:
        return invalid('claim_invalid', `The access token ${err.claim} claim is invalid`, err);
    }
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return invalid('signature_invalid', 'The access token signature is invalid', err);
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
    return invalid('algorithm_not_allowed', 'The access token algorithm is not accepted', err);
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return invalid('key_not_found', 'No key of the authorization server matches the token', err);
  }
  return invalid('malformed_token', 'The access token is malformed', err);
}
