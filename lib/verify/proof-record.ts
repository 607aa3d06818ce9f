/**
 * The DPoP proofs a guard accepted, each kept while it could still be accepted (RFC 9449 §11.1:
 * a `jti` is used once per key), in bounded memory that never forgets a proof early.
 *
 * An LRU would make room by dropping the oldest proofs, so a client with a token of its own could
 * flood it and replay a captured proof of another client's while that proof's `iat` is still in
 * the window. Here nothing is dropped before it expires: an owner (a user's client, or a client
 * without users: `quotaOwnerOf` in `policy/bindings.ts`, whatever its keys and tokens) that holds
 * its share of the record (`perOwner`) gets no more proofs recorded, and neither does anyone once
 * the whole record is full of live proofs (`capacity`); the caller refuses those requests (fail
 * closed) until proofs expire. One owner, with any number of keys, fills only its own share: it
 * takes ten at their share to make others wait. A proof (its key and `jti`) is looked up in one
 * index for everyone, so a replay is caught whoever it is counted against (an introspection
 * answer may name another owner for the same token later).
 *
 * Per owner, proofs are kept in the order they were accepted; expired ones are dropped from the
 * front as it sends more, all of its at most once a second when it holds its share, and
 * everyone's by a sweep (at most once a second) when the record is full.
 */
import { tokenDigest } from './cache.js';

/** What {@link ProofRecord.add} did: recorded it, or why not (with `retryAfterMs` when there is no room). */
export type RecordResult = { result: 'added' | 'replayed' } | { result: 'owner_full' | 'full'; retryAfterMs: number };

const SCAN_INTERVAL_MS = 1000;
const MIN_CAPACITY = 100_000;
const MAX_CAPACITY = 1_000_000;
const ADDED = Object.freeze({ result: 'added' as const });
const REPLAYED = Object.freeze({ result: 'replayed' as const });

/** One owner's proofs: digest of (key, jti) → until when it is kept (ms), in the order accepted. */
interface OwnerRecord {
  proofs: Map<string, number>;
  /** When all of them were last scanned for expired ones (ms). */
  lastScan: number;
  /** The first expiry that scan left (ms; `Infinity` before one). */
  earliest: number;
}

/** Milliseconds until `untilMs` (0 when past; a second when unknown, as after a sweep that found nothing live). */
function waitUntil(untilMs: number, nowMs: number): number {
  return Number.isFinite(untilMs) ? Math.max(0, untilMs - nowMs) : SCAN_INTERVAL_MS;
}

/** Whether a rate-limited scan may run at `nowMs` (a clock stepped back allows one at once). */
function due(last: number, nowMs: number): boolean {
  return nowMs - last >= SCAN_INTERVAL_MS || nowMs < last;
}

export class ProofRecord {
  /** Owner (its digest) → its proofs. */
  readonly #byOwner = new Map<string, OwnerRecord>();
  /** Every proof kept (digest of key and jti) → its owner's record. */
  readonly #index = new Map<string, OwnerRecord>();
  readonly #capacity: number;
  readonly #perOwner: number;
  #lastSweep = -Infinity;
  /** The first expiry among the proofs kept at the last sweep (ms). */
  #earliest = Infinity;

  /** `capacity`: proofs kept in all; `perOwner`: for one owner. */
  constructor(capacity: number, perOwner: number) {
    this.#capacity = capacity;
    this.#perOwner = perOwner;
  }

  /**
   * A guard's record: ten times its `cacheMaxEntries` proofs, 100,000 to 1,000,000 (about 200
   * bytes each, up to 500 when each has its own owner; allocated as they come), a tenth per owner: at 100,000, a user's client
   * (or a client without users) may send 10,000 proofs in one proof window (33 a second over 300 s).
   */
  static sized(cacheMaxEntries: number): ProofRecord {
    const capacity = Math.min(MAX_CAPACITY, Math.max(MIN_CAPACITY, cacheMaxEntries * 10));
    return new ProofRecord(capacity, Math.ceil(capacity / 10));
  }

  /** Proofs kept (tests). */
  get size(): number {
    return this.#index.size;
  }

  /**
   * Record that `owner` used the proof `proofId` (its key and `jti`), to be kept until `untilMs`,
   * unless it was used before (and is still kept), or there is no room.
   */
  add(owner: string, proofId: string, untilMs: number, nowMs: number): RecordResult {
    const id = tokenDigest(proofId);
    const holder = this.#index.get(id);
    if (holder !== undefined) {
      const until = holder.proofs.get(id)!;
      if (until > nowMs) return REPLAYED;
      // Expired, but behind a live proof: dropped here, so it is counted once.
      holder.proofs.delete(id);
      this.#index.delete(id);
    }
    const key = tokenDigest(owner);
    let record = this.#byOwner.get(key);
    if (record !== undefined) {
      const { proofs } = record;
      this.#dropExpired(proofs, nowMs, true);
      if (proofs.size >= this.#perOwner && due(record.lastScan, nowMs)) {
        record.lastScan = nowMs;
        record.earliest = this.#dropExpired(proofs, nowMs, false);
      }
      // (The first expiry found by the last scan: a scan not yet due may have left it behind.)
      if (proofs.size >= this.#perOwner) {
        return { result: 'owner_full', retryAfterMs: waitUntil(record.earliest, nowMs) };
      }
    }
    if (this.#index.size >= this.#capacity) {
      this.#sweep(nowMs);
      if (this.#index.size >= this.#capacity) return { result: 'full', retryAfterMs: waitUntil(this.#earliest, nowMs) };
    }
    // (A sweep may have dropped the owner's emptied record.)
    if (record === undefined || !this.#byOwner.has(key)) {
      record = { proofs: new Map(), lastScan: -Infinity, earliest: Infinity };
      this.#byOwner.set(key, record);
    }
    record.proofs.set(id, untilMs);
    this.#index.set(id, record);
    return ADDED;
  }

  /**
   * Drop `proofs`' expired entries: from the front until a live one (`front`), or all of them.
   * @returns the first expiry of the entries left (when all were scanned; else `Infinity`).
   */
  #dropExpired(proofs: Map<string, number>, nowMs: number, front: boolean): number {
    let earliest = Infinity;
    for (const [id, until] of proofs) {
      if (until > nowMs) {
        if (front) break;
        if (until < earliest) earliest = until;
        continue;
      }
      proofs.delete(id);
      this.#index.delete(id);
    }
    return earliest;
  }

  /** Drop every expired proof, and owners left with none (at most once per {@link SCAN_INTERVAL_MS}). */
  #sweep(nowMs: number): void {
    if (!due(this.#lastSweep, nowMs)) return;
    this.#lastSweep = nowMs;
    let earliest = Infinity;
    for (const [key, record] of this.#byOwner) {
      const first = this.#dropExpired(record.proofs, nowMs, false);
      if (first < earliest) earliest = first;
      if (record.proofs.size === 0) this.#byOwner.delete(key);
    }
    this.#earliest = earliest;
  }

  /** Forget everything. */
  clear(): void {
    this.#byOwner.clear();
    this.#index.clear();
  }
}
