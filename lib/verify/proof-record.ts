/**
 * The DPoP proofs a guard accepted, each kept while it could still be accepted (RFC 9449 §11.1:
 * a `jti` is used once per key), in bounded memory that never forgets a proof early.
 *
 * An LRU would make room by dropping the oldest proofs, so a client with a token of its own could
 * flood it and replay a captured proof of another client's while that proof's `iat` is still in
 * the window. Here nothing is dropped before it expires: a key that holds its share of the record
 * (`perKey`) gets no more proofs recorded, and neither does anyone once the whole record is full
 * of live proofs (`capacity`); the caller refuses those requests (fail closed) until proofs expire.
 * One key can fill only its own share, so it cannot lock others out on its own.
 *
 * Per key, proofs are kept in the order they were accepted; expired ones are dropped from the
 * front as the key sends more, all of the key's at most once a second when it holds its share,
 * and everyone's by a sweep (at most one a second) when the record is full.
 */
import { tokenDigest } from './cache.js';

/** What {@link ProofRecord.add} did: recorded it, or why not (with `retryAfterMs` for a full record). */
export type RecordResult = { result: 'added' | 'replayed' } | { result: 'key_full' | 'full'; retryAfterMs: number };

const SCAN_INTERVAL_MS = 1000;
const MIN_CAPACITY = 100_000;
const MAX_CAPACITY = 1_000_000;
const ADDED = Object.freeze({ result: 'added' as const });
const REPLAYED = Object.freeze({ result: 'replayed' as const });

/** One key's proofs: digest of a jti → until when it is kept (ms), in the order accepted. */
interface KeyRecord {
  jtis: Map<string, number>;
  /** When all of them were last scanned for expired ones (ms). */
  lastScan: number;
}

export class ProofRecord {
  readonly #byKey = new Map<string, KeyRecord>();
  readonly #capacity: number;
  readonly #perKey: number;
  #total = 0;
  #lastSweep = -Infinity;

  /** `capacity`: proofs kept in all; `perKey`: by one key. */
  constructor(capacity: number, perKey: number) {
    this.#capacity = capacity;
    this.#perKey = perKey;
  }

  /**
   * A guard's record: ten times its `cacheMaxEntries` proofs, 100,000 to 1,000,000 (about 100
   * bytes each, allocated as they come), a tenth of them per key: at 100,000, a client may send
   * 10,000 proofs in one proof window (33 a second over 300 s).
   */
  static sized(cacheMaxEntries: number): ProofRecord {
    const capacity = Math.min(MAX_CAPACITY, Math.max(MIN_CAPACITY, cacheMaxEntries * 10));
    return new ProofRecord(capacity, Math.ceil(capacity / 10));
  }

  /** Proofs kept (tests). */
  get size(): number {
    return this.#total;
  }

  /**
   * Record that `jkt` used `jti`, to be kept until `untilMs`, unless it did so before (and that is
   * still kept), or there is no room.
   */
  add(jkt: string, jti: string, untilMs: number, nowMs: number): RecordResult {
    const id = tokenDigest(jti);
    let key = this.#byKey.get(jkt);
    if (key !== undefined) {
      const { jtis } = key;
      const until = jtis.get(id);
      if (until !== undefined) {
        if (until > nowMs) return REPLAYED;
        // Expired, but behind a live proof: dropped here, so it is counted once.
        jtis.delete(id);
        this.#total--;
      }
      this.#dropExpired(jtis, nowMs, true);
      if (jtis.size >= this.#perKey && nowMs - key.lastScan >= SCAN_INTERVAL_MS) {
        key.lastScan = nowMs;
        this.#dropExpired(jtis, nowMs, false);
      }
      if (jtis.size >= this.#perKey) {
        // (Its oldest proof is about the first to expire.)
        const [oldest] = jtis.values();
        return { result: 'key_full', retryAfterMs: (oldest ?? nowMs) - nowMs };
      }
    }
    if (this.#total >= this.#capacity) {
      this.#sweep(nowMs);
      if (this.#total >= this.#capacity) return { result: 'full', retryAfterMs: SCAN_INTERVAL_MS };
    }
    // (A sweep may have dropped the key's emptied record.)
    if (key === undefined || !this.#byKey.has(jkt)) {
      key = { jtis: new Map(), lastScan: -Infinity };
      this.#byKey.set(jkt, key);
    }
    key.jtis.set(id, untilMs);
    this.#total++;
    return ADDED;
  }

  /** Drop `jtis`' expired proofs: from the front until a live one (`front`), or all of them. */
  #dropExpired(jtis: Map<string, number>, nowMs: number, front: boolean): void {
    for (const [id, until] of jtis) {
      if (until > nowMs) {
        if (front) break;
        continue;
      }
      jtis.delete(id);
      this.#total--;
    }
  }

  /** Drop every expired proof, and keys left with none (at most once per {@link SCAN_INTERVAL_MS}). */
  #sweep(nowMs: number): void {
    if (nowMs - this.#lastSweep < SCAN_INTERVAL_MS && nowMs >= this.#lastSweep) return;
    this.#lastSweep = nowMs;
    for (const [jkt, key] of this.#byKey) {
      this.#dropExpired(key.jtis, nowMs, false);
      if (key.jtis.size === 0) this.#byKey.delete(jkt);
    }
  }

  /** Forget everything. */
  clear(): void {
    this.#byKey.clear();
    this.#total = 0;
  }
}
