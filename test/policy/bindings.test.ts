/**
 * `Bindings`: an id (a session's, a task's) belongs to the identity it was bound to when issued;
 * only that identity owns it; an id never bound is nobody's. The identity is issuer, subject and
 * client (Okta's `cid` when there is no other client claim); a token without a string `sub` is its
 * own identity. Bounded, least recently used first, and a tenth of the bound per principal (a user
 * whatever its clients, a client whatever its sub-less tokens, a token with neither itself), least
 * recently used first (a use by its owner counts, a refused one does not), the binding client's own
 * ids before its user's other clients' (found without walking the principal's ids): one cannot push
 * out the others', an id in use outlives ids bound later; ids over the bound are never bound.
 */
import { LRUCache } from 'lru-cache';
import { Bindings, MAX_BOUND_ID_LENGTH } from '../../lib/policy/bindings.js';
import type { AuthInfo } from '../../lib/types.js';
import { toAuthInfo } from '../../lib/verify/claims.js';

const info = (iss: string, sub: unknown, clientId: string, more: Record<string, unknown> = {}, token = 't'): AuthInfo =>
  ({ token, clientId, scopes: [], expiresAt: 0, extra: { iss, sub, ...more } }) as AuthInfo;

test('bound when issued, then owned by the same issuer, subject and client only; never bound: nobody\'s; a second bind changes nothing', () => {
  const b = new Bindings(10);
  const alice = info('https://as', 'alice', 'c1');
  expect(b.owns('s1', alice)).toBe(false);
  b.bind('s1', alice);
  b.bind('s1', info('https://as', 'bob', 'c1'));
  expect(b.owns('s1', info('https://as', 'alice', 'c1', {}, 'refreshed'))).toBe(true);
  expect(b.owns('s1', info('https://as', 'bob', 'c1'))).toBe(false);
  expect(b.owns('s1', info('https://as', 'alice', 'c2'))).toBe(false);
  expect(b.owns('s1', info('https://other', 'alice', 'c1'))).toBe(false);
});

test('no field runs into another: subject "a" with client "b|c" is not subject "a|b" with client "c"', () => {
  const b = new Bindings(10);
  b.bind('s', info('https://as', 'a', 'b|c'));
  expect(b.owns('s', info('https://as', 'a|b', 'c'))).toBe(false);
});

test('Okta: without client_id/azp/appid, cid tells the clients apart', () => {
  const b = new Bindings(10);
  b.bind('s', info('https://as', 'alice', '', { cid: 'app-a' }));
  expect(b.owns('s', info('https://as', 'alice', '', { cid: 'app-a' }))).toBe(true);
  expect(b.owns('s', info('https://as', 'alice', '', { cid: 'app-b' }))).toBe(false);
});

test('a token without a string sub is its own identity (users of one client cannot be told apart otherwise)', () => {
  const b = new Bindings(10);
  for (const sub of [undefined, '', 5, { id: 'x' }]) {
    const id = `s-${String(sub)}`;
    b.bind(id, info('https://as', sub, 'shared', {}, 'token-a'));
    expect(b.owns(id, info('https://as', sub, 'shared', {}, 'token-a'))).toBe(true);
    expect(b.owns(id, info('https://as', sub, 'shared', {}, 'token-b'))).toBe(false);
  }
});

test("released by its owner only: then nobody's, and out of its principal's quota", () => {
  const b = new Bindings(20); // 2 per principal
  const alice = info('https://as', 'alice', 'c1');
  b.bind('s1', alice);
  b.release('s1', info('https://as', 'bob', 'c1'));
  expect(b.owns('s1', alice)).toBe(true);
  b.release('s1', info('https://as', 'alice', 'c1', {}, 'refreshed'));
  expect(b.owns('s1', alice)).toBe(false);
  b.release('never-bound', alice);
  // The released id no longer counts: two more bindings push out nothing of alice's.
  b.bind('s2', alice);
  b.bind('s3', alice);
  expect(b.owns('s2', alice)).toBe(true);
  expect(b.owns('s3', alice)).toBe(true);
});

test('bounded: the least recently used id is forgotten first (then nobody\'s)', () => {
  const b = new Bindings(20); // 2 per identity
  const who = (n: number) => info('https://as', `user-${n}`, 'c');
  for (let n = 0; n < 20; n++) b.bind(`s${n}`, who(n));
  expect(b.owns('s0', who(0))).toBe(true); // s0 used again: s1 is now the oldest
  b.bind('s20', who(20)); // evicts s1
  expect(b.owns('s1', who(1))).toBe(false);
  expect(b.owns('s0', who(0))).toBe(true);
  expect(b.owns('s20', who(20))).toBe(true);
});

test('a tenth of the bound per principal: one identity binding many ids pushes out its own oldest, not the others\'', () => {
  const b = new Bindings(20); // 2 per identity
  const alice = info('https://as', 'alice', 'c');
  const bob = info('https://as', 'bob', 'c');
  b.bind('a1', alice);
  for (let n = 0; n < 100; n++) b.bind(`b${n}`, bob);
  expect(b.owns('a1', alice)).toBe(true);
  expect([...Array(100).keys()].filter((n) => b.owns(`b${n}`, bob))).toEqual([98, 99]);
  // A quota of 1 (a bound under 20) still holds each identity's newest.
  const one = new Bindings(8);
  one.bind('a', alice);
  one.bind('b1', bob);
  one.bind('b2', bob);
  expect([one.owns('a', alice), one.owns('b1', bob), one.owns('b2', bob)]).toEqual([true, false, true]);
});

test(`an id longer than ${MAX_BOUND_ID_LENGTH} characters is never bound`, () => {
  const b = new Bindings(10);
  const alice = info('https://as', 'alice', 'c');
  b.bind('x'.repeat(MAX_BOUND_ID_LENGTH), alice);
  b.bind('y'.repeat(MAX_BOUND_ID_LENGTH + 1), alice);
  expect(b.owns('x'.repeat(MAX_BOUND_ID_LENGTH), alice)).toBe(true);
  expect(b.owns('y'.repeat(MAX_BOUND_ID_LENGTH + 1), alice)).toBe(false);
});

/** A user `sub` (or none) of client `clientId` with token `token`. */
const who = (sub: unknown, clientId: string, token: string): AuthInfo =>
  ({ token, clientId, scopes: [], expiresAt: 0, extra: { iss: 'https://as', sub } }) as AuthInfo;

test('tokens without sub, all of one client, cannot push out another user\'s binding', () => {
  const b = new Bindings(20); // a quota of 2 per principal
  const alice = who('alice', 'app', 'alice-token');
  b.bind('alice-task', alice);
  // One service client, ten access tokens without sub (one token endpoint call each), 2 tasks each.
  for (let t = 0; t < 10; t++) for (let n = 0; n < 2; n++) b.bind(`svc-${t}-${n}`, who(undefined, 'svc', `svc-token-${t}`));
  expect(b.owns('alice-task', alice)).toBe(true);
});

test('one user registering ten clients cannot push out another user\'s binding', () => {
  const b = new Bindings(20);
  const alice = who('alice', 'app', 'alice-token');
  b.bind('alice-task', alice);
  for (let c = 0; c < 10; c++) for (let n = 0; n < 2; n++) b.bind(`m-${c}-${n}`, who('mallory', `dcr-client-${c}`, `m-token-${c}`));
  expect(b.owns('alice-task', alice)).toBe(true);
});

/** `sub`'s client `clientId`. */
const user = (sub: string, clientId: string, token = `${sub}-${clientId}`): AuthInfo =>
  ({ token, clientId, scopes: [], expiresAt: 0, extra: { iss: 'https://as', sub } }) as AuthInfo;

test('an id used after every new binding of its identity is not the one the quota pushes out (LRU, as the global bound)', () => {
  const b = new Bindings(20); // 2 per principal
  const ide = user('alice', 'ide');
  b.bind('live', ide);
  for (let i = 0; i < 5; i++) {
    expect(b.owns('live', ide)).toBe(true); // used: the most recently used of alice's ids
    b.bind(`short-${i}`, ide); // a short session, opened and closed (DELETE does not unbind)
  }
  expect(b.owns('live', ide)).toBe(true);
});

test("one client of a user opening sessions pushes out its own, not the same user's other client's", () => {
  const b = new Bindings(20); // 2 per principal
  const ide = user('alice', 'ide');
  const chat = user('alice', 'chat-app');
  b.bind('ide-session', ide);
  for (let i = 0; i < 5; i++) b.bind(`chat-${i}`, chat);
  expect(b.owns('ide-session', chat)).toBe(false); // chat may not use it…
  expect(b.owns('ide-session', ide)).toBe(true); // …but should not be able to take it away either
});

const RESOURCE = 'https://mcp.example.com/mcp';
const exp = Math.floor(Date.now() / 1000) + 3600;
/** What introspection builds from a minimal active answer for `token` (no sub, no client). */
const minimal = (token: string) => toAuthInfo(token, { active: true, aud: RESOURCE, scope: 'mcp', exp }, exp, { resource: RESOURCE });

test("one holder of a sub-less, client-less token cannot push out another such token's binding", () => {
  const b = new Bindings(20); // quota 2 per principal
  const alice = minimal('opaque-token-of-alice');
  const mallory = minimal('opaque-token-of-mallory');
  expect(alice.clientId).toBe('');
  b.bind('alice-session', alice);
  for (let i = 0; i < 2; i++) b.bind(`mallory-${i}`, mallory);
  expect(b.owns('alice-session', mallory)).toBe(false);
  expect(b.owns('alice-session', alice)).toBe(true);
});

test("a refused owns() (another identity's) is no use: it refreshes nothing", () => {
  const b = new Bindings(10); // ten users, one id each: full
  const n = (i: number) => user(`user-${i}`, 'c');
  for (let i = 0; i < 10; i++) b.bind(`s${i}`, n(i));
  expect(b.owns('s0', n(99))).toBe(false); // not a use: s0 stays the least recently used
  b.bind('s10', n(10)); // evicts the least recently used
  expect(b.owns('s1', n(1))).toBe(true);
  expect(b.owns('s0', n(0))).toBe(false);
});

test("a bind at a full quota finds what to give up without walking the principal's ids", () => {
  const b = new Bindings(100_000); // 10,000 per principal
  for (let i = 0; i < 10_000; i++) b.bind(`a${i}`, user('mallory', 'c1'));
  const proto = LRUCache.prototype as unknown as { peek: (...a: unknown[]) => unknown; get: (...a: unknown[]) => unknown };
  const { peek, get } = proto;
  let reads = 0;
  proto.peek = function (this: unknown, ...a: unknown[]) { reads++; return peek.apply(this, a); };
  proto.get = function (this: unknown, ...a: unknown[]) { reads++; return get.apply(this, a); };
  try {
    for (let i = 0; i < 100; i++) b.bind(`b${i}`, user('mallory', 'c2'));
  } finally {
    proto.peek = peek;
    proto.get = get;
  }
  expect(reads).toBeLessThanOrEqual(100 * 10);
  expect(b.owns('a0', user('mallory', 'c1'))).toBe(false); // the principal's least recently used went
  expect(b.owns('a100', user('mallory', 'c1'))).toBe(true);
});
