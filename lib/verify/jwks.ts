/**
 * The remote key set, with the timing rules `jose`'s remote set alone does not give.
 *
 * - Every fetch (the first too), successful or not, starts a cooldown (`jwksCooldownSeconds`):
 *   no second fetch before it ends, so a flood of tokens with random `kid`s makes one fetch.
 * - Concurrent callers share one in-flight fetch.
 * - Keys older than `jwksCacheMaxAgeSeconds` are refreshed in the background; while refreshes fail,
 *   the last good keys keep serving for `jwksMaxStaleSeconds` more, then are dropped.
 * - No keys at all (never fetched successfully, dropped, or a set without any usable key) →
 *   {@link AuthUnavailableError} (503), never a token error. A usable key is a public signature key
 *   that can verify one of the accepted algorithms: `kty` RSA (modulus ≥ 2048 bits), EC (P-256,
 *   P-384, P-521, a point on the curve) or OKP (Ed25519: `jose` has no Ed448); `use` absent or `sig`; `key_ops`
 *   absent or exactly `["verify"]` (`jose` imports a key with its `key_ops` as usages, and a public
 *   key can only verify); `ext` absent or a boolean; `alg` absent or an accepted algorithm of the
 *   key's type; no private part (no `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`); an RSA public
 *   exponent odd and ≥ 3 and an odd modulus; an Ed25519 key not of small order and canonically
 *   encoded. Other keys of the set (encryption keys, symmetric keys, weak or broken keys) are left out. An unknown `kid` is the token's fault
 *   (401) only when the endpoint answered after the token's arrival could have triggered a refetch.
 *
 * Key selection (by `kid`, `alg`, `kty`, `use`) and import are `jose`'s `createLocalJWKSet`; a token
 * without `kid` that fits several keys gets at most {@link MAX_CANDIDATES} of them to try.
 * Header `jwk`, `jku`, `x5u`, `x5c` are never consulted.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput } from 'jose';
import { AuthUnavailableError, InvalidTokenError } from '../errors.js';
import { cooldownLeftMs } from './cooldown.js';
import type { GuardEvent } from '../events.js';
import { describeFailure, fetchJson, FetchFailure, unlimitedController } from './http.js';

type KeyResolver = ReturnType<typeof createLocalJWKSet>;
/** Key material as `jose` resolves it. */
export type ResolvedKey = Awaited<ReturnType<KeyResolver>>;

/** Most keys tried for one token without `kid` (bounds the work a token can cause). */
export const MAX_CANDIDATES = 4;

/** Settings of a {@link RemoteKeySet}, all durations in milliseconds. */
export interface KeySetSettings {
  /** The accepted JWS algorithms (a key that can verify none of them is not usable). */
  algorithms: readonly string[];
  timeoutMs: number;
  cooldownMs: number;
  maxAgeMs: number;
  maxStaleMs: number;
  maxBytes: number;
  clock: () => number;
  emit: ((event: GuardEvent) => void) | undefined;
  /** The issuer whose keys these are, named in the events (several issuers: which one is down). */
  issuer: string;
  /** Called when the URI answered with something other than a key set (an HTTP error, not JSON, no usable key). */
  notAKeySet?: () => void;
  /** Why the metadata naming the URI could not be read again, if it could not (named when the keys are gone). */
  discoveryFailure?: () => AuthUnavailableError | undefined;
}

/** A remote JWKS with cooldown, coalescing, stale serving and 503 semantics. */
export class RemoteKeySet {
  #resolver: KeyResolver | undefined;
  #keyCount = 0;
  #loadedAt = -Infinity;
  /** Counts the sets loaded (a clock reading cannot tell two loads of one millisecond apart). */
  #generation = 0;
  /** The URI the current keys came from. */
  #loadedFrom = '';
  #lastAttemptAt = -Infinity;
  #lastFailure: unknown;
  #inflight: Promise<void> | undefined;
  /** Aborted by close(); every call in progress listens to it (no listener limit: the warning would be a false leak alarm). */
  readonly #closing = unlimitedController();

  constructor(readonly uri: () => Promise<string>, private readonly s: KeySetSettings) {}

  /**
   * The candidate verification keys for a JWS header: one when the `kid` (or the only key of the
   * algorithm's type) identifies it; several (at most {@link MAX_CANDIDATES}) when the token has no
   * `kid` and more than one key fits, for the caller to try in turn.
   */
  async getKeys(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<ResolvedKey[]> {
    const now = this.s.clock();
    if (this.#resolver === undefined || now - this.#loadedAt > this.s.maxAgeMs + this.s.maxStaleMs) {
      // No usable keys: fetch (or wait for the fetch under way), or answer 503 during the cooldown.
      if (this.#resolver !== undefined) this.#drop();
      await this.#refresh(now, true);
      if (this.#resolver === undefined) throw this.#unavailable(now);
    } else if (now - this.#loadedAt > this.s.maxAgeMs) {
      if (this.#canFetch(now)) void this.#refresh(now, false).catch(() => {});
      if (this.#lastFailure !== undefined) {
        this.s.emit?.({ type: 'stale_keys_served', issuer: this.s.issuer, jwksUri: this.#loadedFrom, ageSeconds: Math.round((now - this.#loadedAt) / 1000) });
      }
    }
    // A listener may have closed the set (events are synchronous).
    const resolver = this.#resolver;
    if (resolver === undefined) throw this.#unavailable(now);
    const since = this.#generation;
    try {
      return await this.#resolve(resolver, header, token);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw this.#keyError(err);
    }
    // Unknown kid: refetch once per cooldown, then decide whose fault it is.
    const keys = await this.#refetched(header, token, since);
    if (keys.length > 0) return keys;
    throw new InvalidTokenError({ reason: 'key_not_found', description: 'No key of the authorization server matches the token' });
  }

  /**
   * For a token without `kid` that no cached candidate verified: refetch once per cooldown (a key
   * of the same type rotated in since the last fetch) and return the candidates of the new set;
   * none when no fetch was allowed or it brought nothing new to try. While the endpoint fails, 503
   * (as for an unknown `kid`: whose fault it is cannot be told).
   */
  keysAfterSignatureFailure(header: JWSHeaderParameters, token: FlattenedJWSInput, since: number): Promise<ResolvedKey[]> {
    return this.#refetched(header, token, since);
  }

  /** Which key set is loaded (changes with every set fetched): pass it back to {@link keysAfterSignatureFailure}. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * The candidates of a set newer than generation `since` (the set a token was tried against):
   * the one loaded meanwhile (another token's refetch may have landed), else the one a refetch
   * brings if the cooldown allows (joining a fetch under way); none when no newer set exists or
   * none fits. {@link AuthUnavailableError} while the endpoint fails or once the set is closed
   * (then whose fault a token is cannot be told).
   */
  async #refetched(header: JWSHeaderParameters, token: FlattenedJWSInput, since: number): Promise<ResolvedKey[]> {
    if (this.#generation === since) await this.#refresh(this.s.clock(), true);
    if (this.#closing.signal.aborted) throw this.#unavailable(this.s.clock());
    if (this.#generation !== since && this.#resolver !== undefined) {
      try {
        return await this.#resolve(this.#resolver, header, token);
      } catch (err) {
        if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw this.#keyError(err);
      }
    }
    if (this.#lastFailure !== undefined) throw this.#unavailable(this.s.clock());
    return [];
  }

  /** Load the keys now (warm-up); rejects with the reason when none can be had. */
  async ready(): Promise<void> {
    if (this.#resolver !== undefined) return;
    await this.#refresh(this.s.clock(), true);
    if (this.#resolver === undefined) throw this.#unavailable(this.s.clock());
  }

  /** Number of keys of the last good set (diagnostics). */
  get keyCount(): number {
    return this.#keyCount;
  }

  /** Abort a fetch under way, drop the keys and make no further fetch (later lookups answer 503). */
  close(): void {
    this.#closing.abort();
    this.#drop();
  }

  /** One key, or the candidates `jose` offers when several keys fit a token without `kid`. */
  async #resolve(resolver: KeyResolver, header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<ResolvedKey[]> {
    try {
      return [await resolver(header, token)];
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSMultipleMatchingKeys)) throw err;
      const keys: ResolvedKey[] = [];
      for await (const key of err as unknown as AsyncIterable<ResolvedKey>) {
        keys.push(key);
        if (keys.length === MAX_CANDIDATES) break;
      }
      if (keys.length === 0) throw new joseErrors.JWKSNoMatchingKey();
      return keys;
    }
  }

  #canFetch(now: number): boolean {
    return !this.#closing.signal.aborted && cooldownLeftMs(now, this.#lastAttemptAt, this.s.cooldownMs) === 0;
  }

  #drop(): void {
    this.#resolver = undefined;
    this.#keyCount = 0;
  }

  /** Fetch if the cooldown allows (joining a fetch under way); never throws. */
  async #refresh(now: number, wait: boolean): Promise<void> {
    if (this.#inflight) {
      if (wait) await this.#inflight;
      return;
    }
    if (!this.#canFetch(now)) return;
    this.#lastAttemptAt = now;
    this.#inflight = this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    if (wait) await this.#inflight;
  }

  async #fetch(): Promise<void> {
    let uri = '';
    try {
      uri = await this.uri();
      const json = await fetchJson(uri, this.s.timeoutMs, this.s.maxBytes, this.#closing.signal);
      const keys = (json as { keys?: unknown } | null)?.keys;
      if (!Array.isArray(keys)) throw new FetchFailure('not_json', 'the document has no "keys" array');
      const usable = keys.filter((k) => isUsableKey(k, this.s.algorithms));
      if (usable.length === 0) throw new FetchFailure('not_json', 'the key set has no usable key');
      const resolver = createLocalJWKSet({ keys: usable } as JSONWebKeySet);
      this.#resolver = resolver;
      this.#keyCount = usable.length;
      this.#loadedAt = this.s.clock();
      this.#generation++;
      this.#loadedFrom = uri;
      this.#lastFailure = undefined;
      this.s.emit?.({ type: 'keys_refreshed', issuer: this.s.issuer, jwksUri: uri, keyCount: usable.length });
    } catch (err) {
      this.#lastFailure = err;
      if (err instanceof FetchFailure && (err.kind === 'status' || err.kind === 'not_json')) this.s.notAKeySet?.();
      this.s.emit?.({ type: 'keys_refresh_failed', issuer: this.s.issuer, jwksUri: uri, reason: describeFailure(err) });
    }
  }

  #unavailable(now: number): AuthUnavailableError {
    const waitMs = Math.max(1000, cooldownLeftMs(now, this.#lastAttemptAt, this.s.cooldownMs));
    const failure = this.#lastFailure;
    // A failed discovery (no JWKS URI, or a re-read of stale metadata that failed: the keys may
    // have moved) keeps its own reason and description.
    const discovery = failure instanceof AuthUnavailableError ? failure : this.s.discoveryFailure?.();
    return new AuthUnavailableError({
      reason: discovery?.reason ?? 'jwks_unavailable',
      description: discovery?.description ?? 'The authorization server keys are unavailable',
      retryAfterSeconds: waitMs / 1000,
      cause: discovery?.cause ?? failure,
    });
  }

  #keyError(err: unknown): Error {
    if (err instanceof joseErrors.JOSENotSupported || err instanceof joseErrors.JOSEAlgNotAllowed) {
      return new InvalidTokenError({ reason: 'algorithm_not_allowed', description: 'Unsupported token algorithm', cause: err });
    }
    return new InvalidTokenError({ reason: 'key_not_found', description: 'No usable key for the token', cause: err });
  }
}

/** Whether a JWS algorithm verifies with a key of this type and curve (`jose`'s pairing). */
export function algFitsKey(alg: string, kty: string, crv: unknown): boolean {
  switch (alg) {
    case 'ES256': return kty === 'EC' && crv === 'P-256';
    case 'ES384': return kty === 'EC' && crv === 'P-384';
    case 'ES512': return kty === 'EC' && crv === 'P-521';
    case 'EdDSA':
    case 'Ed25519': return kty === 'OKP' && crv === 'Ed25519';
    default: return kty === 'RSA' && /^(RS|PS)(256|384|512)$/.test(alg);
  }
}

/**
 * Members only a private or symmetric key has (RFC 7518 §6.3.2, §6.4, RFC 8037 §2): a public key
 * published with `p` and `q` but no `d` still gives its private key away to every reader.
 */
export const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** The field prime of edwards25519, 2^255 − 19. */
const P25519 = (1n << 255n) - 19n;
/** `y` of the order-8 points of edwards25519 (with `P25519 − Y8`, they and `y` ∈ {0, 1, −1} are its 8 small-order points). */
const Y8 = 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;

/**
 * Whether an Ed25519 public key (32 bytes, base64url) is a small-order point, or a non-canonical
 * encoding (`y` ≥ p): against such a key a signature can be made without any private key (for the
 * identity, `R` = identity and `S` = 0 verifies every message).
 */
function isWeakEd25519(x: unknown): boolean {
  if (typeof x !== 'string') return true;
  const bytes = Buffer.from(x, 'base64url');
  if (bytes.length !== 32) return true;
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? bytes[i]! & 0x7f : bytes[i]!);
  return y >= P25519 || y === 0n || y === 1n || y === P25519 - 1n || y === Y8 || y === P25519 - Y8;
}

/** A public key that can verify one of `algorithms` (see the module comment); checked once per fetch. */
export function isUsableKey(k: unknown, algorithms: readonly string[]): boolean {
  return usableKey(k, algorithms) !== undefined;
}

/** {@link isUsableKey}, giving the key it parsed (`undefined` when it is not usable). */
export function usableKey(k: unknown, algorithms: readonly string[]): KeyObject | undefined {
  if (k === null || typeof k !== 'object' || Array.isArray(k)) return undefined;
  const jwk = k as Record<string, unknown>;
  const { kty, crv, use, key_ops: ops, ext, alg } = jwk;
  if (typeof kty !== 'string' || PRIVATE_MEMBERS.some((m) => jwk[m] !== undefined)) return undefined;
  if (use !== undefined && use !== 'sig') return undefined;
  if (ops !== undefined && !(Array.isArray(ops) && ops.length === 1 && ops[0] === 'verify')) return undefined;
  if (ext !== undefined && typeof ext !== 'boolean') return undefined;
  const fits = (a: string): boolean => algFitsKey(a, kty, crv);
  if (alg !== undefined ? !(typeof alg === 'string' && algorithms.includes(alg) && fits(alg)) : !algorithms.some(fits)) return undefined;
  if (kty === 'OKP' && isWeakEd25519(jwk.x)) return undefined;
  try {
    // The key material itself: an EC point on its curve; an RSA modulus long enough for jose, odd,
    // and an odd public exponent of at least 3 (with e = 1 the padded hash is its own signature).
    const key = createPublicKey({ key: k as JsonWebKey, format: 'jwk' });
    if (kty !== 'RSA') return key;
    const details = key.asymmetricKeyDetails;
    const e = details?.publicExponent ?? 0n;
    const n = Buffer.from(String(jwk.n), 'base64url');
    return (details?.modulusLength ?? 0) >= 2048 && e >= 3n && e % 2n === 1n && (n[n.length - 1]! & 1) === 1 ? key : undefined;
  } catch {
    return undefined;
  }
}
