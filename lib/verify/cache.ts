/**
 * The verification cache (`lru-cache`), keyed by the SHA-256 of the whole token.
 *
 * - Positive entries (verified `AuthInfo`) live at most `min(exp − now, cacheMaxAgeSeconds)`; a
 *   TTL that is not a positive finite number is never stored (lru-cache treats 0 as "forever").
 *   A hit is re-checked against `expiresAt` with the injected clock.
 * - Negative entries (a token found invalid by introspection) live in a separate, smaller cache
 *   for at most `negativeCacheSeconds`, so a flood of junk cannot evict good entries.
 * - Concurrent verifications of one uncached token share one promise (one upstream call); a
 *   request never joins a stream's recheck (`coalesce`), so those two may make two calls. A
 *   recheck is wanted while any stream that asked for it is open: one still waiting for an
 *   introspection slot when none is any more is given up.
 *
 * Deliberately not cached: outages (503) and misconfiguration (500).
 */
import * as nodeCrypto from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { McpAuthError } from '../errors.js';
import type { AuthInfo } from '../types.js';

/** `crypto.hash()` (Node ≥ 20.12, not yet in `@types/node` 20): one call, no `Hash` object per request. */
const oneShotHash = (nodeCrypto as unknown as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string }).hash;

/** The SHA-256 of a string, base64url: the only form in which the guard keys anything by a token (also DPoP's `ath`, thumbprints and proof ids; which hash function: chosen once). */
export const tokenDigest: (token: string) => string = oneShotHash !== undefined
  ? (token) => oneShotHash('sha256', token, 'base64url')
  : (token) => nodeCrypto.createHash('sha256').update(token).digest('base64url');

/** Cache settings. */
export interface CacheSettings {
  maxEntries: number;
  maxAgeSeconds: number;
  negativeSeconds: number;
  clock: () => number;
}

/** An entry: the result (positive `AuthInfo` or negative error), and when it was stored (ms, the injected clock). */
interface Entry<T> {
  value: T;
  storedAt: number;
}

/**
 * The entry under `key`, unless it was stored later than `now` (the clock stepped back, as an NTP
 * correction does): `lru-cache` would count its age from the future and keep it past its
 * lifetime (for positive entries, `cacheMaxAgeSeconds`, the revocation window). Such an entry is dropped.
 */
function fresh<T>(cache: LRUCache<string, Entry<T>> | undefined, key: string, now: number): Entry<T> | undefined {
  const hit = cache?.get(key);
  if (hit === undefined || now >= hit.storedAt) return hit;
  cache!.delete(key);
  return undefined;
}

/** Positive and negative verification results, with in-flight coalescing. */
export class VerificationCache {
  readonly #positive: LRUCache<string, Entry<AuthInfo>> | undefined;
  readonly #negative: LRUCache<string, Entry<McpAuthError>> | undefined;
  readonly #inflight = new Map<string, Promise<AuthInfo>>();
  /** Streams' rechecks, which may wait for an introspection slot (requests never join them), with whether each stream that asked still waits. */
  readonly #inflightRechecks = new Map<string, { promise: Promise<AuthInfo>; askers: (() => boolean)[] }>();
  readonly #s: CacheSettings;
  #closed = false;

  constructor(s: CacheSettings) {
    this.#s = s;
    // ttlResolution 0: read the injected clock on every check (lru-cache otherwise memoizes "now"
    // for a millisecond behind a timer per read, which also breaks injected clocks).
    const common = { ttlAutopurge: false, ttlResolution: 0, perf: { now: s.clock } };
    if (s.maxAgeSeconds > 0) this.#positive = new LRUCache({ max: s.maxEntries, ...common });
    if (s.negativeSeconds > 0) this.#negative = new LRUCache({ max: Math.max(16, Math.ceil(s.maxEntries / 10)), ...common });
  }

  /** Cache key of a token: its SHA-256, base64url. */
  key(token: string): string {
    return tokenDigest(token);
  }

  /** A still-valid positive entry ({@link fresh}, and not expired by the injected clock). */
  get(key: string): AuthInfo | undefined {
    const now = this.#s.clock();
    const hit = fresh(this.#positive, key, now);
    if (hit === undefined) return undefined;
    const exp = hit.value.expiresAt;
    if (exp !== undefined && exp * 1000 <= now) {
      this.#positive!.delete(key);
      return undefined;
    }
    return hit.value;
  }

  /** A cached negative answer ({@link fresh}). */
  getNegative(key: string): McpAuthError | undefined {
    return fresh(this.#negative, key, this.#s.clock())?.value;
  }

  /** Store a verified result for at most `min(exp − now, maxAge)`; nothing when that is not positive and finite. */
  set(key: string, info: AuthInfo, expSeconds: number | undefined): void {
    if (!this.#positive || this.#closed) return;
    const nowMs = this.#s.clock();
    let ttlMs = this.#s.maxAgeSeconds * 1000;
    if (expSeconds !== undefined) ttlMs = Math.min(ttlMs, expSeconds * 1000 - nowMs);
    ttlMs = Math.floor(ttlMs);
    if (!Number.isFinite(ttlMs) || ttlMs < 1) return;
    this.#positive.set(key, { value: info, storedAt: nowMs }, { ttl: ttlMs });
  }

  /** Store a negative answer for `negativeSeconds`; nothing when that rounds below 1 ms (never "forever"). */
  setNegative(key: string, err: McpAuthError): void {
    if (!this.#negative || this.#closed) return;
    const ttlMs = Math.floor(this.#s.negativeSeconds * 1000);
    if (!Number.isFinite(ttlMs) || ttlMs < 1) return;
    this.#negative.set(key, { value: err, storedAt: this.#s.clock() }, { ttl: ttlMs });
  }

  /**
   * Run `fn` once for concurrent callers with the same key. A stream's recheck (`wanted` given:
   * whether that stream still waits for the answer; its introspection may wait for a slot) joins
   * any verification under way, but a request never joins a recheck: it is answered at once or
   * refused. `fn` gets, for a recheck, whether any stream that joined it still waits; once that is
   * false, the recheck is no longer joined (it is being given up).
   */
  coalesce(key: string, fn: (wanted?: () => boolean) => Promise<AuthInfo>, wanted?: () => boolean): Promise<AuthInfo> {
    // Closed: never join a verification started before close() (it may still succeed).
    if (this.#closed) return fn(wanted);
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    if (wanted === undefined) {
      const p = fn().finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
      return p;
    }
    const joined = this.#inflightRechecks.get(key);
    if (joined) {
      joined.askers.push(wanted);
      return joined.promise;
    }
    const askers = [wanted];
    const retire = (): void => {
      if (this.#inflightRechecks.get(key)?.askers === askers) this.#inflightRechecks.delete(key);
    };
    const promise = fn(() => {
      if (askers.some((w) => w())) return true;
      // (Being given up: a stream asking from now on starts its own.)
      retire();
      return false;
    }).finally(retire);
    this.#inflightRechecks.set(key, { promise, askers });
    return promise;
  }

  /** Number of positive entries (diagnostics, benchmarks). */
  get size(): number {
    return this.#positive?.size ?? 0;
  }

  /**
   * Drop every entry and store nothing more: a verification still under way when the guard
   * closes finishes into a closed cache, so the closed guard never answers from it.
   */
  close(): void {
    this.#closed = true;
    this.#inflight.clear();
    this.#inflightRechecks.clear();
    this.#positive?.clear();
    this.#negative?.clear();
  }
}
