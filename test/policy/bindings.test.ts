/**
 * `Bindings`: an id (a session's, a task's) belongs to the identity it was bound to when issued;
 * only that identity owns it; an id never bound is nobody's. The identity is issuer, subject and
 * client (Okta's `cid` when there is no other client claim); a token without a string `sub` is its
 * own identity. Bounded, least recently used first; ids over the bound are never bound.
 */
import { Bindings, MAX_BOUND_ID_LENGTH } from '../../lib/policy/bindings.js';
import type { AuthInfo } from '../../lib/types.js';

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

test('bounded: the least recently used id is forgotten first (then nobody\'s)', () => {
  const b = new Bindings(2);
  const alice = info('https://as', 'alice', 'c');
  b.bind('s1', alice);
  b.bind('s2', alice);
  expect(b.owns('s1', alice)).toBe(true); // s1 used again: s2 is now the oldest
  b.bind('s3', alice); // evicts s2
  expect(b.owns('s2', alice)).toBe(false);
  expect(b.owns('s1', alice)).toBe(true);
});

test(`an id longer than ${MAX_BOUND_ID_LENGTH} characters is never bound`, () => {
  const b = new Bindings(10);
  const alice = info('https://as', 'alice', 'c');
  b.bind('x'.repeat(MAX_BOUND_ID_LENGTH), alice);
  b.bind('y'.repeat(MAX_BOUND_ID_LENGTH + 1), alice);
  expect(b.owns('x'.repeat(MAX_BOUND_ID_LENGTH), alice)).toBe(true);
  expect(b.owns('y'.repeat(MAX_BOUND_ID_LENGTH + 1), alice)).toBe(false);
});
