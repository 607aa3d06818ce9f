/**
 * A token without `kid` that fits several keys gets each candidate tried in turn (lib/verify/jwt.ts):
 * a candidate that cannot verify it (a bad signature, or a key `jose` refuses to use) moves on to the
 * next; a claim failure after a good signature is final. The key source is injected here, so a
 * candidate the key set's own filter would leave out (a 1024-bit RSA key) can be offered.
 */
import { generateKeyPairSync } from 'node:crypto';
import { importJWK, type JWK } from 'jose';
import { McpAuthError } from '../../lib/errors.js';
import { resolveOptions } from '../../lib/options.js';
import type { ResolvedKey } from '../../lib/verify/jwks.js';
import { jwtVerifier } from '../../lib/verify/jwt.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { tokenBuilder } from '../helpers/tokens.js';

const ISSUER = 'https://as.example.com';
const RESOURCE = 'https://mcp.example.com/mcp';
const NOW = 1_800_000_000;

let good: TestKey;
let foreign: TestKey;
const sign = tokenBuilder({ issuer: ISSUER, audience: RESOURCE, nowSeconds: () => NOW });
const importKey = (jwk: JWK) => importJWK({ ...jwk, kid: undefined, alg: undefined }, 'RS256') as Promise<ResolvedKey>;

beforeAll(async () => {
  [good, foreign] = await Promise.all([makeKey('RS256'), makeKey('RS256')]);
});

/** The outcome of verifying `token` against these candidates, in this order: `ok` or the reason. */
async function outcome(candidates: ResolvedKey[], token: string): Promise<string> {
  const config = resolveOptions({ resource: RESOURCE, issuer: ISSUER, jwksUri: `${ISSUER}/jwks`, clock: () => NOW * 1000 });
  const verify = jwtVerifier(config, { getKeys: async () => candidates, keysAfterSignatureFailure: async () => [], generation: 0 });
  try {
    await verify(token);
    return 'ok';
  } catch (err) {
    return err instanceof McpAuthError ? err.reason : `non-guard error ${(err as Error).name}`;
  }
}

test('a candidate jose refuses (1024-bit RSA) does not end the search, in either order', async () => {
  const weak = await importKey(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }) as JWK);
  const ok = await importKey(good.publicJwk);
  const token = await sign(good, {}, { kid: undefined });
  expect(await outcome([weak, ok], token)).toBe('ok');
  expect(await outcome([ok, weak], token)).toBe('ok');
  // No candidate verifies: the signature failure is reported (not the refused key), in either order.
  const other = await importKey(foreign.publicJwk);
  expect(await outcome([weak, other], token)).toBe('signature_invalid');
  expect(await outcome([other, weak], token)).toBe('signature_invalid');
});

test('a claim failure after a good signature is final: reported as such, not as a signature failure', async () => {
  const ok = await importKey(good.publicJwk);
  const other = await importKey(foreign.publicJwk);
  const expired = await sign(good, { exp: NOW - 600, iat: NOW - 1200 }, { kid: undefined });
  expect(await outcome([other, ok], expired)).toBe('token_expired');
  const wrongAudience = await sign(good, { aud: 'https://other.example.com/mcp' }, { kid: undefined });
  expect(await outcome([ok, other], wrongAudience)).toBe('audience_mismatch');
});
