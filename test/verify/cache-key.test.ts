/** The verification cache's key: SHA-256 of the whole token, base64url (one-shot `crypto.hash` when Node has it). */
import { createHash } from 'node:crypto';
import { VerificationCache } from '../../lib/verify/cache.js';

const cache = new VerificationCache({ maxEntries: 10, maxAgeSeconds: 60, negativeSeconds: 10, clock: () => 0 });

test.each([
  ['a compact JWS', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl'],
  ['an opaque token', 'mF_9.B5f-4.1JqM'],
  ['a non-ASCII string (UTF-8, as createHash)', 'tökén-✓'],
  ['the empty string', ''],
])('key of %s equals createHash sha256 base64url', (_name, token) => {
  expect(cache.key(token)).toBe(createHash('sha256').update(token).digest('base64url'));
});

test('distinct tokens get distinct keys; the key is not the token', () => {
  const a = cache.key('token-a');
  expect(cache.key('token-b')).not.toBe(a);
  expect(a).not.toContain('token-a');
  expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
});
