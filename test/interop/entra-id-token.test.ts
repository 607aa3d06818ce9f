/**
 * Entra ID v2 access tokens carry `aud` = the API app's client id (a GUID), so the README's Entra
 * recipe lists that client id as an audience. An ID token issued to the same app registration has
 * the same `aud`, `iss`, `typ: JWT` and keys, and no mark the guard could refuse it by (its `nonce`
 * is no mark: other servers put one in access tokens). The recipe therefore asks for an API-only
 * registration and `requiredScopes`: an ID token has no `scp`, so it gets 403 and never reaches
 * the handler.
 *
 * Shapes from the providers' documentation (Entra "ID token claims reference": header typ always
 * "JWT", aud = the app's client id, nonce, no scp; "access token claims reference": v2 aud is always
 * the API's client id).
 */
import request from 'supertest';
import { SignJWT } from 'jose';
import { buildApp, type TestApp } from '../helpers/app.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const API_APP_ID = '11111111-1111-1111-1111-111111111111';
const ENTRA_V2_ISSUER = `https://login.microsoftonline.com/${TENANT}/v2.0`;
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } };
const TOOLS_LIST = { jsonrpc: '2.0', id: 2, method: 'tools/list' };

const fx = loopbackJwtSuite(RESOURCE);
const now = () => Math.floor(Date.now() / 1000);

beforeAll(() => {
  // Entra's JWKS: RSA keys without `alg`, with x5t / issuer members.
  const { alg: _alg, ...noAlg } = fx.key.publicJwk;
  fx.as.keys = [{ ...noAlg, x5t: 'bW9jay14NXQ', issuer: ENTRA_V2_ISSUER } as never];
});

function sign(payload: Record<string, unknown>, header: Record<string, unknown> = { typ: 'JWT' }): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: fx.key.kid, ...header }).sign(fx.key.privateKey);
}

/** The claims an Entra v2 access token and ID token of the API app registration share, for Alice, now. */
function entraClaims(): Record<string, unknown> {
  const n = now();
  return {
    aud: API_APP_ID, iss: ENTRA_V2_ISSUER, iat: n, nbf: n, exp: n + 3600, aio: 'AXQAi/8TAAAA', name: 'Alice',
    oid: 'bbbbbbbb-0000-0000-0000-000000000001', preferred_username: 'alice@contoso.com', rh: '0.AAAA',
    sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ', tid: TENANT, uti: 'fqiBqXLPj0eQa82S-IYFAA', ver: '2.0',
  };
}

/** README recipe for Entra ID, in options form (MCP_AUTH_* variables of the recipe, JWKS on loopback). */
function entraApp(): TestApp {
  const t = buildApp({
    resource: RESOURCE,
    issuer: ENTRA_V2_ISSUER,
    jwksUri: fx.as.jwksUri,
    audience: [API_APP_ID],
    requiredScopes: ['mcp.access'],
    toolScopes: { list_notes: ['notes.read'], add_note: ['notes.write'] },
  });
  fx.track(t);
  return t;
}

describe('Entra ID v2, README recipe', () => {
  test('control: an Entra v2 delegated access token (aud = app id, scp string, azp) is accepted', async () => {
    const t = entraApp();
    const at = await sign({ ...entraClaims(), azp: 'aaaaaaaa-0000-0000-0000-000000000001', azpacr: '0', scp: 'mcp.access notes.read notes.write' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${at}`).send(INIT);
    expect(res.status).toBe(200);
    expect(t.calls()).toBe(1);
  });

  test('an Entra v2 ID token issued to the API app registration is refused (403: no scp, so not the required scope), handler not run', async () => {
    const t = entraApp();
    const idToken = await sign({ ...entraClaims(), nonce: '123523' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${idToken}`).send(INIT);
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toMatch(/error="insufficient_scope"/);
    expect(t.calls()).toBe(0);
    const list = await request(t.app).post('/mcp').set('Authorization', `Bearer ${idToken}`).send(TOOLS_LIST);
    expect(list.status).toBe(403);
    expect(t.calls()).toBe(0);
    // verify() checks the token only (README): its scopes are empty, for the caller to check.
    await expect(t.guard.verify(idToken)).resolves.toMatchObject({ scopes: [] });
  });
});

