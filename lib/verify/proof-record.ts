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
 * front as the key sends more, and everywhere by a sweep (at most one a second) when the record
 * is full.
 */
import { tokenDigest } from './cache.js';

/** What {@link ProofRecord.add} did: recorded it, or why not. */
export type RecordResult = 'added' | 'replayed' | 'key_full' | 'full';

const SWEEP_INTERVAL_MS = 1000;

export class ProofRecord {
  /** Key thumbprint → (digest of a jti → until when it is kept, ms). */
  readonly #byKey = new Map<string, Map<string, number>>();
  readonly #capacity: number;
  readonly #perKey: number;
  #total = 0;
  #lastSweep = -Infinity;

  /** `capacity`: proofs kept in all; `perKey`: by one key. */
  constructor(capacity: number, perKey: number) {
    this.#capacity = capacity;
    this.#perKey = perKey;
  }

  /** Proofs kept (diagnostics, tests). */
  get size(): number {
    return this.#total;
  }

  /**
   * Record that `jkt` used `jti`, to be kept until `untilMs`, unless it did so before (and that is
   * still kept), or there is no room.
   */
  add(jkt: string, jti: string, untilMs: number, nowMs: number): RecordResult {
    const id = tokenDigest(jti);
    let jtis = this.#byKey.get(jkt);
    if (jtis !== undefined) {
      const until = jtis.get(id);
      if (until !== undefined && until > nowMs) return 'replayed';
      this.#dropExpired(jtis, nowMs, true);
      if (jtis.size >= this.#perKey) this.#dropExpired(jtis, nowMs, false);
      if (jtis.size >= this.#perKey) return 'key_full';
    }
    if (this.#total >= this.#capacity) {
      this.#sweep(nowMs);
      if (this.#total >= this.#capacity) return 'full';
    }
    if (jtis === undefined || !this.#byKey.has(jkt)) {
      jtis = new Map();
      this.#byKey.set(jkt, jtis);
    }
    jtis.set(id, untilMs);
    this.#total++;
    return 'added';
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

  /** Drop every expired proof, and keys left with none (at most once per {@link SWEEP_INTERVAL_MS}). */
  #sweep(nowMs: number): void {
    if (nowMs - this.#lastSweep < SWEEP_INTERVAL_MS && nowMs >= this.#lastSweep) return;
    this.#lastSweep = nowMs;
    for (const [jkt, jtis] of this.#byKey) {
      this.#dropExpired(jtis, nowMs, false);
      if (jtis.size === 0) this.#byKey.delete(jkt);
    }
  }

  /** Forget everything. */
  clear(): void {
    this.#byKey.clear();
    this.#total = 0;
  }
}
