/**
 * The DPoP replay record (`lib/verify/proof-record.ts`) on its own, with small sizes and explicit
 * times: it never forgets a live proof to make room (a flood is refused instead), one owner
 * (whatever its keys) fills only its share, a replay is caught whoever it is counted against,
 * counts stay true, an owner at its share rescans its proofs at most once a second, and
 * Retry-After names the first expiry. From four security reviews: an LRU record let a client
 * flood a captured proof of another's out of it (38cb9d6); the first fixed record (f824e56)
 * counted a re-sent expired jti twice, so phantom proofs filled it for good, and rescanned a full
 * key on every request; the next (cb8674c) let one client with ten keys fill it, and named the
 * first-inserted proof's expiry as the wait; the next (762127a) looked a replay up under the
 * owner the token named that time (an introspection answer may name another later), and said
 * Retry-After: Infinity after a sweep that found nothing live.
 * The DPoP checker's use of it (503, Retry-After): review-findings.test.ts.
 */
import { ProofRecord, type RecordResult } from '../../lib/verify/proof-record.js';

const T = 1_800_000_000_000;
const results = (rs: RecordResult[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const r of rs) out[r.result] = (out[r.result] ?? 0) + 1;
  return out;
};
/** `count` proofs of `owner` with key `key` (jtis `<tag>0`…), kept until `until`, at `now`. */
const addMany = (record: ProofRecord, owner: string, tag: string, count: number, until: number, now: number, key = 'K'): RecordResult[] =>
  Array.from({ length: count }, (_, i) => record.add(owner, `${key}.${tag}${i}`, until, now));

test('a proof (key and jti) is recorded once: again it is replayed while kept; another key\'s same jti is another proof', () => {
  const r = new ProofRecord(1000, 100);
  expect(r.add('victim', 'K.j', T + 300_000, T)).toEqual({ result: 'added' });
  expect(r.add('victim', 'K.j', T + 300_000, T + 299_999)).toEqual({ result: 'replayed' });
  expect(r.add('victim', 'K2.j', T + 300_000, T)).toEqual({ result: 'added' });
  expect(r.size).toBe(2);
});

test('another owner flooding the record fills only its share (owner_full beyond it, with the wait until its first proof expires); the victim\'s proof stays recorded', () => {
  const r = new ProofRecord(1000, 100);
  r.add('victim', 'K.j', T + 300_000, T);
  const flood = addMany(r, 'attacker', 'a', 1000, T + 300_000, T + 10_000);
  expect(results(flood)).toEqual({ added: 100, owner_full: 900 });
  expect(flood.at(-1)).toEqual({ result: 'owner_full', retryAfterMs: 290_000 });
  expect(r.add('victim', 'K.j', T + 300_000, T + 20_000)).toEqual({ result: 'replayed' });
});

test('one owner with ten keys fills only its one share (keys are not owners)', () => {
  const r = new ProofRecord(1000, 100);
  const all = Array.from({ length: 10 }, (_, k) => addMany(r, 'attacker', 'a', 100, T + 300_000, T, `K${k}`)).flat();
  expect(results(all)).toEqual({ added: 100, owner_full: 900 });
  expect(results(addMany(r, 'someone-else', 'b', 100, T + 300_000, T))).toEqual({ added: 100 });
});

test('owners filling the whole record: further proofs are refused (full, the wait until the first expiry), none recorded is dropped; once they expire the record takes new ones', () => {
  const r = new ProofRecord(1000, 100);
  r.add('victim', 'K.j', T + 200_000, T);
  const all = Array.from({ length: 11 }, (_, p) => addMany(r, `p${p}`, 'x', 100, T + 300_000, T, `K${p}`)).flat();
  expect(results(all)).toEqual({ added: 999, full: 101 });
  expect(r.size).toBe(1000);
  expect(r.add('late', 'K.x', T + 300_000, T + 5000)).toEqual({ result: 'full', retryAfterMs: 195_000 });
  expect(r.add('victim', 'K.j', T + 200_000, T + 6000).result).toBe('replayed');
  // All expired: the sweep empties the record, a new principal gets its whole share.
  expect(results(addMany(r, 'after', 'y', 100, T + 700_000, T + 300_001))).toEqual({ added: 100 });
  expect(r.size).toBe(100);
});

test('a jti re-sent after its entry expired, behind a live proof of the same owner, is counted once: phantom counts never fill the record', () => {
  const r = new ProofRecord(1000, 100);
  let now = T;
  // A live proof at the front of the owner's list (kept ten minutes), so dropping from the front stops there.
  expect(r.add('attacker', 'K.anchor', now + 600_000, now).result).toBe('added');
  for (let round = 0; round < 50; round++) {
    // 20 jtis kept 2 s, each re-sent once it expired: every one accepted (not a replay).
    expect(results(addMany(r, 'attacker', 'x', 20, now + 2000, now))).toEqual({ added: 20 });
    now += 3000;
  }
  expect(r.size).toBe(21);
  // An hour on everything has expired: another owner gets its whole share (the first fixed
  // record gave it about 20, the rest refused for good by ~980 phantom counts).
  expect(results(addMany(r, 'victim', 'v', 100, now + 3_600_000 + 300_000, now + 3_600_000))).toEqual({ added: 100 });
});

test('an owner at its share has its expired proofs (behind a live one) dropped at most once a second; Retry-After names the first expiry, not the first proof\'s', () => {
  const r = new ProofRecord(1000, 100);
  // Its first proof is kept ten minutes (an iat in the future); the others expire at T + 9000.
  r.add('p', 'K.live', T + 600_000, T);
  addMany(r, 'p', 'short', 99, T + 9000, T);
  expect(r.add('p', 'K.n0', T + 600_000, T + 500)).toEqual({ result: 'owner_full', retryAfterMs: 8500 });
  // Within a second of that scan: no scan, the first expiry it found stands.
  expect(r.add('p', 'K.n1', T + 600_000, T + 1200)).toEqual({ result: 'owner_full', retryAfterMs: 7800 });
  // Once they have expired, the next request scans (a second after the last scan) and finds room.
  expect(r.add('p', 'K.n2', T + 600_000, T + 9000)).toEqual({ result: 'added' });
  expect(r.size).toBe(2);
});

test('sized(cacheMaxEntries): 100,000 proofs at least (10,000 per owner: 33 a second over 300 s), ten times cacheMaxEntries up to 1,000,000', () => {
  const small = ProofRecord.sized(1);
  expect(results(addMany(small, 'p', 'a', 10_001, T + 300_000, T))).toEqual({ added: 10_000, owner_full: 1 });
  const large = ProofRecord.sized(20_000);
  expect(results(addMany(large, 'p', 'a', 20_001, T + 300_000, T))).toEqual({ added: 20_000, owner_full: 1 });
  // The whole record: 100,000 for sized(1) (the first owner and nine more at their share), 1,000,000 at most (sized(200,000): a share of 100,000).
  const owners = Array.from({ length: 11 }, (_, o) => addMany(small, `o${o}`, 'b', 10_000, T + 300_000, T, `K${o}`)).flat();
  expect(results(owners)).toEqual({ added: 90_000, full: 20_000 });
  const capped = ProofRecord.sized(200_000);
  expect(results(addMany(capped, 'p', 'c', 100_001, T + 300_000, T))).toEqual({ added: 100_000, owner_full: 1 });
});

test('a replay is caught whoever it is counted against: the same proof under another owner (an introspection answer naming another user later) is still replayed', () => {
  const r = new ProofRecord(1000, 100);
  expect(r.add('alice', 'K.j', T + 300_000, T).result).toBe('added');
  expect(r.add('someone-else', 'K.j', T + 300_000, T + 1000)).toEqual({ result: 'replayed' });
});

test('Retry-After is a finite wait also when the record refills within a second of a sweep that found nothing live', () => {
  const r = new ProofRecord(100, 100);
  addMany(r, 'a', 'x', 100, T + 1000, T);
  // At T + 2000 all have expired: a sweep empties the record (and finds no first expiry) ...
  expect(results(addMany(r, 'b', 'y', 101, T + 300_000, T + 2000))).toEqual({ added: 100, owner_full: 1 });
  // ... and it is full again before the next sweep is due.
  expect(r.add('c', 'K.z', T + 300_000, T + 2500)).toEqual({ result: 'full', retryAfterMs: 1000 });
});
