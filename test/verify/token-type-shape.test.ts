/**
 * The claims that name a token's kind (`token_type`, `token_use`, `typ`) are read only as strings: a
 * JWT whose claim is something else (an array naming a refresh token, an object, a number) is not
 * taken for a bearer access token but refused, 401 (`claim_invalid`), never accepted as if the
 * claim were absent (README, Security: "Claims of the wrong type … → 401").
 */
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { McpAuthError, mcpAuth } from '../../lib/index.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
let as: LoopbackAS;
let privateKey: CryptoKey;
beforeAll(async () => {
  as = await startLoopbackAS();
  const pair = await generateKeyPair('ES256', { extractable: true });
  privateKey = pair.privateKey as CryptoKey;
  as.keys = [{ ...(await exportJWK(pair.publicKey)), kid: 'e', alg: 'ES256', use: 'sig' }];
});
afterAll(async () => { await as.close(); });

async function outcome(claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ scope: 'mcp', client_id: 'c', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'e', typ: 'at+jwt' })
    .setIssuer(as.issuer).setAudience(RESOURCE).setSubject('u').setIssuedAt(now).setExpirationTime(now + 600)
    .sign(privateKey);
  const guard = mcpAuth({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri });
  try {
    await guard.verify(token);
    return 'accepted';
  } catch (err) {
    return err instanceof McpAuthError ? `${err.status}` : String(err);
  } finally {
    await guard.close();
  }
}

test('control: token_type "Bearer" is accepted, "refresh_token" refused', async () => {
  expect(await outcome({ token_type: 'Bearer' })).toBe('accepted');
  expect(await outcome({ token_type: 'refresh_token' })).toBe('401');
});

test.each([
  ['token_type ["refresh_token"]', { token_type: ['refresh_token'] }],
  ['token_type ["N_A"]', { token_type: ['N_A'] }],
  ['token_type {"value":"DPoP"}', { token_type: { value: 'DPoP' } }],
  ['token_type 1', { token_type: 1 }],
  ['token_use ["refresh_token"]', { token_use: ['refresh_token'] }],
])('a JWT with %s is not taken for a bearer access token (401)', async (_name, claims) => {
  expect(await outcome(claims)).toBe('401');
});
