/**
 * The DPoP replay record (`lib/verify/proof-record.ts`) on its own, with small sizes and explicit
 * times: it never forgets a live proof to make room (a flood is refused instead), one key fills
 * only its share, counts stay true, and a key at its share rescans its proofs at most once a
 * second. From two security reviews: an LRU record let a client flood a captured proof of
 * another's out of it (38cb9d6), and the first fixed record (f824e56) counted a re-sent expired
 * jti twice, so phantom proofs filled it for good, and rescanned a full key on every request.
 * The DPoP checker's use of it (503, Retry-After): the proof battery's flood case.
 */
import { ProofRecord, type RecordResult } from '../../lib/verify/proof-record.js';

const T = 1_800_000_000_000;
const results = (rs: RecordResult[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const r of rs) out[r.result] = (out[r.result] ?? 0) + 1;
  return out;
};
/** `count` proofs of `key` (jtis `<tag>0`…), kept until `until`, at `now`. */
const addMany = (record: ProofRecord, key: string, tag: string, count: number, until: number, now: number): RecordResult[] =>
  Array.from({ length: count }, (_, i) => record.add(key, `${tag}${i}`, until, now));

test('a proof is recorded once per key: the same jti again is replayed while kept, another key may use it', () => {
  const r = new ProofRecord(1000, 100);
  expect(r.add('victim', 'j', T + 300_000, T)).toEqual({ result: 'added' });
  expect(r.add('victim', 'j', T + 300_000, T + 299_999)).toEqual({ result: 'replayed' });
  expect(r.add('other', 'j', T + 300_000, T)).toEqual({ result: 'added' });
  expect(r.size).toBe(2);
});

test('another key flooding the record fills only its share (key_full beyond it, with the wait until its oldest proof expires); the victim\'s proof stays recorded', () => {
  const r = new ProofRecord(1000, 100);
  r.add('victim', 'j', T + 300_000, T);
  const flood = addMany(r, 'attacker', 'a', 1000, T + 300_000, T + 10_000);
  expect(results(flood)).toEqual({ added: 100, key_full: 900 });
  expect(flood.at(-1)).toEqual({ result: 'key_full', retryAfterMs: 290_000 });
  expect(r.add('victim', 'j', T + 300_000, T + 20_000)).toEqual({ result: 'replayed' });
});

test('keys filling the whole record: further proofs are refused (full), none recorded is dropped; once they expire the record takes new ones', () => {
  const r = new ProofRecord(1000, 100);
  r.add('victim', 'j', T + 300_000, T);
  const all = Array.from({ length: 11 }, (_, k) => addMany(r, `k${k}`, 'x', 100, T + 300_000, T)).flat();
  expect(results(all)).toEqual({ added: 999, full: 101 });
  expect(r.size).toBe(1000);
  expect(r.add('late', 'x', T + 300_000, T).result).toBe('full');
  expect(r.add('victim', 'j', T + 300_000, T + 1000).result).toBe('replayed');
  // All expired: the sweep empties the record, a new key gets its whole share.
  expect(results(addMany(r, 'after', 'y', 100, T + 700_000, T + 300_001))).toEqual({ added: 100 });
  expect(r.size).toBe(100);
});

test('a jti re-sent after its entry expired, behind a live proof of the same key, is counted once: phantom counts never fill the record', () => {
  const r = new ProofRecord(1000, 100);
  let now = T;
  // A live proof at the front of the key's list (kept ten minutes), so dropping from the front stops there.
  expect(r.add('attacker', 'anchor', now + 600_000, now).result).toBe('added');
  for (let round = 0; round < 50; round++) {
    // 20 jtis kept 2 s, each re-sent once it expired: every one accepted (not a replay).
    expect(results(addMany(r, 'attacker', 'x', 20, now + 2000, now))).toEqual({ added: 20 });
    now += 3000;
  }
  expect(r.size).toBe(21);
  // An hour on everything has expired: another key gets its whole share (the first fixed record
  // gave it about 20, the rest refused for good by ~980 phantom counts).
  expect(results(addMany(r, 'victim', 'v', 100, now + 3_600_000 + 300_000, now + 3_600_000))).toEqual({ added: 100 });
});

test('a key at its share has its expired proofs (behind a live one) dropped, at most once a second', () => {
  const r = new ProofRecord(1000, 100);
  r.add('k', 'live', T + 600_000, T);
  addMany(r, 'k', 'short', 99, T + 1000, T);
  // At its share; the short-lived ones expire at T + 1000, behind the live one at the front.
  expect(r.add('k', 'n0', T + 600_000, T + 500).result).toBe('key_full');
  // A second after that refusal's scan, the next one scans again and finds room.
  expect(r.add('k', 'n1', T + 600_000, T + 1200).result).toBe('key_full'); // (within a second of the last scan: no scan)
  expect(r.add('k', 'n2', T + 600_000, T + 1500)).toEqual({ result: 'added' });
  expect(r.size).toBe(2);
});

test('sized(cacheMaxEntries): 100,000 proofs at least (10,000 per key: 33 a second over 300 s), ten times cacheMaxEntries up to 1,000,000', () => {
  const small = ProofRecord.sized(1);
  expect(results(addMany(small, 'k', 'a', 10_001, T + 300_000, T))).toEqual({ added: 10_000, key_full: 1 });
  const large = ProofRecord.sized(20_000);
  expect(results(addMany(large, 'k', 'a', 20_001, T + 300_000, T))).toEqual({ added: 20_000, key_full: 1 });
});
