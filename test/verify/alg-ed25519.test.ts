/**
 * RFC 9864 (fully-specified algorithms for JOSE) registers `Ed25519` and deprecates the polymorphic
 * `EdDSA`. An authorization server that moved to the new identifier signs with `alg: Ed25519` and
 * may publish its key with that `alg`: accepted by default and when listed, the key kept as usable.
 */
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import { buildApp } from '../helpers/app.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
let as: LoopbackAS;
beforeAll(async () => { as = await startLoopbackAS(); });
afterAll(async () => { await as.close(); });

test.each([[['EdDSA', 'Ed25519']], [undefined]])('an Ed25519 (RFC 9864) token from a key published with alg "Ed25519" is accepted (algorithms: %p)', async (algorithms) => {
  const { privateKey, publicKey } = await generateKeyPair('Ed25519', { extractable: true });
  as.keys = [{ ...(await exportJWK(publicKey)), kid: 'ed', alg: 'Ed25519', use: 'sig' }];
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ scope: 'mcp', client_id: 'c' })
    .setProtectedHeader({ alg: 'Ed25519', kid: 'ed', typ: 'at+jwt' })
    .setIssuer(as.issuer).setAudience(RESOURCE).setSubject('u').setIssuedAt(now).setExpirationTime(now + 600)
    .sign(privateKey);
  let t: ReturnType<typeof buildApp> | undefined;
  expect(() => { t = buildApp({ resource: RESOURCE, issuer: as.issuer, ...(algorithms ? { algorithms } : {}) }); }).not.toThrow();
  try {
    const res = await request(t!.app).post('/mcp').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(res.status).toBe(200);
    expect(t!.calls()).toBe(1);
  } finally {
    await t?.guard.close();
  }
});
