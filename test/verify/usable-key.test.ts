/**
 * `isUsableKey`, the filter every fetched key passes: the weak and broken public keys beside the
 * ones `test/verify/jwks-broken-keys.test.ts` drives over HTTP. Every small-order point of
 * edwards25519 (y ∈ {0, 1, −1, ±y8}, either sign bit), non-canonical encodings (y ≥ p), RSA with an
 * even or too small public exponent or an even modulus, and any private or symmetric member.
 */
import { generateKeyPairSync } from 'node:crypto';
import { isUsableKey } from '../../lib/verify/jwks.js';

const P = (1n << 255n) - 19n;
const Y8 = 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;
/** The 32-byte little-endian encoding of `y` with the sign bit of x set or not, base64url. */
function ed(y: bigint, sign = false): string {
  const b = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) b[i] = Number((y >> BigInt(8 * i)) & 0xffn);
  if (sign) b[31] = b[31]! | 0x80;
  return b.toString('base64url');
}

const edGood = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
const rsaGood = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
const RS = ['RS256'];
const EDDSA = ['EdDSA'];

test('controls: a fresh Ed25519 and RSA public key are usable', () => {
  expect(isUsableKey(edGood, EDDSA)).toBe(true);
  expect(isUsableKey(rsaGood, RS)).toBe(true);
});

test.each([
  ['identity (y = 1)', 1n, false],
  ['identity, sign bit set', 1n, true],
  ['order 2 (y = −1)', P - 1n, false],
  ['order 4 (y = 0)', 0n, false],
  ['order 4 (y = 0), sign bit set', 0n, true],
  ['order 8 (y = y8)', Y8, false],
  ['order 8 (y = y8), sign bit set', Y8, true],
  ['order 8 (y = −y8)', P - Y8, false],
  ['order 8 (y = −y8), sign bit set', P - Y8, true],
  ['non-canonical y = p (≡ 0)', P, false],
  ['non-canonical y = p + 1 (≡ 1)', P + 1n, false],
  ['non-canonical y = p + 5', P + 5n, false],
] as const)('Ed25519 %s is not usable', (_label, y, sign) => {
  expect(isUsableKey({ kty: 'OKP', crv: 'Ed25519', x: ed(y, sign) }, EDDSA)).toBe(false);
});

test('Ed25519 with a short or missing x is not usable', () => {
  expect(isUsableKey({ kty: 'OKP', crv: 'Ed25519', x: Buffer.alloc(31, 7).toString('base64url') }, EDDSA)).toBe(false);
  expect(isUsableKey({ kty: 'OKP', crv: 'Ed25519' }, EDDSA)).toBe(false);
});

test.each([
  ['e = 1', { e: 'AQ' }],
  ['e = 2 (even)', { e: 'Ag' }],
  ['e = 65536 (even)', { e: 'AQAA' }],
  ['an even modulus', { n: Buffer.concat([Buffer.from(String(rsaGood.n), 'base64url').subarray(0, 255), Buffer.from([0x02])]).toString('base64url') }],
] as const)('RSA with %s is not usable', (_label, change) => {
  expect(isUsableKey({ ...rsaGood, ...change }, RS)).toBe(false);
});

test('RSA with e = 3 (odd, ≥ 3) stays usable', () => {
  expect(isUsableKey({ ...rsaGood, e: 'Aw' }, RS)).toBe(true);
});

test.each(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'])('a key carrying the private or symmetric member "%s" is not usable', (member) => {
  expect(isUsableKey({ ...rsaGood, [member]: 'AQAB' }, RS)).toBe(false);
  expect(isUsableKey({ ...edGood, [member]: 'AQAB' }, EDDSA)).toBe(false);
});
