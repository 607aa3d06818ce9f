/**
 * `SessionBindings`: a session id belongs to the first identity (issuer, subject, client) that uses
 * it; bounded, least recently used first (an id forgotten that way is bound again by its next user);
 * ids longer than the bound are refused.
 */
import { MAX_SESSION_ID_LENGTH, SessionBindings } from '../../lib/policy/sessions.js';
import type { AuthInfo } from '../../lib/types.js';

const info = (iss: string, sub: string | undefined, clientId: string): AuthInfo =>
  ({ token: 't', clientId, scopes: [], expiresAt: 0, extra: { iss, sub } }) as AuthInfo;

test('the first identity binds the id; the same issuer, subject and client pass, any other does not', () => {
  const b = new SessionBindings(10);
  expect(b.admits('s1', info('https://as', 'alice', 'c1'))).toBe(true);
  expect(b.admits('s1', info('https://as', 'alice', 'c1'))).toBe(true);
  expect(b.admits('s1', info('https://as', 'bob', 'c1'))).toBe(false);
  expect(b.admits('s1', info('https://as', 'alice', 'c2'))).toBe(false);
  expect(b.admits('s1', info('https://other', 'alice', 'c1'))).toBe(false);
});

test('tokens without a subject (client credentials) are told apart by client', () => {
  const b = new SessionBindings(10);
  expect(b.admits('s', info('https://as', undefined, 'svc-a'))).toBe(true);
  expect(b.admits('s', info('https://as', undefined, 'svc-b'))).toBe(false);
});

test('no field runs into another: subject "a" with client "b|c" is not subject "a|b" with client "c"', () => {
  const b = new SessionBindings(10);
  expect(b.admits('s', info('https://as', 'a', 'b|c'))).toBe(true);
  expect(b.admits('s', info('https://as', 'a|b', 'c'))).toBe(false);
});

test('bounded: the least recently used id is forgotten first, then bound by its next user', () => {
  const b = new SessionBindings(2);
  const alice = info('https://as', 'alice', 'c');
  const bob = info('https://as', 'bob', 'c');
  expect(b.admits('s1', alice)).toBe(true);
  expect(b.admits('s2', alice)).toBe(true);
  expect(b.admits('s1', alice)).toBe(true); // s1 used again: s2 is now the oldest
  expect(b.admits('s3', alice)).toBe(true); // evicts s2
  expect(b.admits('s1', bob)).toBe(false);
  expect(b.admits('s2', bob)).toBe(true);
});

test(`an id longer than ${MAX_SESSION_ID_LENGTH} characters is refused (never stored)`, () => {
  const b = new SessionBindings(10);
  expect(b.admits('x'.repeat(MAX_SESSION_ID_LENGTH), info('https://as', 'a', 'c'))).toBe(true);
  expect(b.admits('x'.repeat(MAX_SESSION_ID_LENGTH + 1), info('https://as', 'a', 'c'))).toBe(false);
});
