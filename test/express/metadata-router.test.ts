/** `metadata()` over HTTP, and `app.use(auth.protect())` app-wide letting metadata and preflights through. */
import express from 'express';
import request from 'supertest';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'https://mcp.example.com/mcp';
let as: LoopbackAS;
let key: TestKey;
const guards: McpAuthGuard[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('ES256');
  as.keys = [key.publicJwk];
});
afterAll(async () => {
  await Promise.all(guards.map((g) => g.close()));
  await as.close();
});

function guard(over: Record<string, unknown> = {}): McpAuthGuard {
  const g = mcpAuth({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, ...over });
  guards.push(g);
  return g;
}

describe('metadata()', () => {
  const app = express();
  let g: McpAuthGuard;
  beforeAll(() => {
    g = guard({ scopesSupported: ['mcp', 'notes:read'], resourceName: 'Notes', resourceDocumentation: 'https://docs.example.com/mcp' });
    app.use(g.metadata());
    app.use((_req, res) => { res.status(404).json({ fallthrough: true }); });
  });

  test.each(['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource'])('GET %s: the RFC 9728 document', async (path) => {
    const res = await request(app).get(path);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['cache-control']).toMatch(/max-age=\d+/);
    expect(res.body).toEqual({
      resource: RESOURCE,
      authorization_servers: [as.issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['mcp', 'notes:read'],
      resource_name: 'Notes',
      resource_documentation: 'https://docs.example.com/mcp',
    });
  });

  test('HEAD: headers, no body', async () => {
    const res = await request(app).head('/.well-known/oauth-protected-resource/mcp');
    expect(res.status).toBe(200);
    expect(res.text ?? '').toBe('');
    expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
  });

  test('OPTIONS (CORS preflight): 204, open', async () => {
    const res = await request(app).options('/.well-known/oauth-protected-resource/mcp')
      .set('Origin', 'https://app.example').set('Access-Control-Request-Method', 'GET').set('Access-Control-Request-Headers', 'mcp-protocol-version');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-methods']).toMatch(/GET/);
    expect(res.headers['access-control-allow-headers']).toBe('mcp-protocol-version');
  });

  test.each(['post', 'put', 'delete', 'patch'] as const)('%s: 405 with Allow', async (method) => {
    const res = await request(app)[method]('/.well-known/oauth-protected-resource/mcp');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD, OPTIONS');
  });

  test('other paths fall through: trailing slash, other resources, prefixes', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp/', '/.well-known/oauth-protected-resource/other', '/.well-known/oauth-protected-resource/mcpx', '/mcp', '/.well-known/oauth-authorization-server']) {
      const res = await request(app).get(path);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ fallthrough: true });
    }
  });

  test('the document ignores Host and X-Forwarded-*', async () => {
    const res = await request(app).get('/.well-known/oauth-protected-resource/mcp').set('Host', 'evil.example').set('X-Forwarded-Host', 'evil.example');
    expect(res.body.resource).toBe(RESOURCE);
    expect(res.text).not.toContain('evil');
  });

  test('minimal document: no scopes_supported when there are none; resource exactly as configured', async () => {
    const a = express();
    const g2 = guard({ resource: 'https://mcp.example.com/api/mcp/' });
    a.use(g2.metadata());
    const res = await request(a).get('/.well-known/oauth-protected-resource/api/mcp/');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ resource: 'https://mcp.example.com/api/mcp/', authorization_servers: [as.issuer], bearer_methods_supported: ['header'] });
  });

  test('a root resource is served at the root form only', async () => {
    const a = express();
    a.use(guard({ resource: 'https://mcp.example.com' }).metadata());
    expect((await request(a).get('/.well-known/oauth-protected-resource')).body.resource).toBe('https://mcp.example.com');
  });

  test('authorizationServers and the policy union feed the document', async () => {
    const a = express();
    a.use(guard({ authorizationServers: ['https://as1.example', 'https://as2.example'], requiredScopes: ['mcp'] }).metadata());
    const res = await request(a).get('/.well-known/oauth-protected-resource');
    expect(res.body.authorization_servers).toEqual(['https://as1.example', 'https://as2.example']);
    expect(res.body.scopes_supported).toEqual(['mcp']);
  });
});

describe('app.use(auth.protect()) app-wide', () => {
  const app = express();
  let g: McpAuthGuard;
  let calls = 0;
  beforeAll(() => {
    g = guard();
    app.use(express.json());
    app.use(g.protect());
    app.use(g.metadata());
    app.all('/{*any}', (_req, res) => { calls++; res.json({ ok: true }); });
  });

  test('metadata paths are served without a token, even with protect() mounted first', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await request(app).get(path);
      expect(res.status).toBe(200);
      expect(res.body.resource).toBe(RESOURCE);
    }
    expect((await request(app).head('/.well-known/oauth-protected-resource/mcp')).status).toBe(200);
    expect((await request(app).options('/.well-known/oauth-protected-resource/mcp')).status).toBe(204);
  });

  test('CORS preflights pass through untouched; a plain OPTIONS elsewhere is checked', async () => {
    const before = calls;
    const pre = await request(app).options('/mcp').set('Origin', 'https://app.example').set('Access-Control-Request-Method', 'POST');
    expect(pre.status).toBe(200);
    expect(calls).toBe(before + 1);
    const plain = await request(app).options('/mcp');
    expect(plain.status).toBe(401);
    expect(calls).toBe(before + 1);
    // A browser's preflight never has a body: an OPTIONS that carries one is an ordinary request.
    const withBody = await request(app).options('/mcp').set('Origin', 'https://app.example').set('Access-Control-Request-Method', 'POST')
      .set('Content-Type', 'application/json').send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'delete_note' } }));
    expect(withBody.status).toBe(401);
    expect(calls).toBe(before + 1);
  });

  test('every other request is checked; a POST to a metadata path too', async () => {
    const before = calls;
    expect((await request(app).post('/mcp').send({})).status).toBe(401);
    expect((await request(app).get('/anything')).status).toBe(401);
    expect((await request(app).post('/.well-known/oauth-protected-resource/mcp')).status).toBe(401);
    expect(calls).toBe(before);
    const token = await tokenBuilder({ issuer: as.issuer, audience: RESOURCE })(key);
    expect((await request(app).post('/mcp').set('Authorization', `Bearer ${token}`).send({})).status).toBe(200);
    expect(calls).toBe(before + 1);
  });

  test('mounted under a prefix, the full path is compared, and the metadata request is answered with the document (never handed to a later handler without a token)', async () => {
    const outer = express();
    const inner = express.Router();
    let reached = 0;
    inner.use(g.protect());
    inner.get('/oauth-protected-resource/mcp', (_req, res) => { reached++; res.json({ reached: true }); });
    outer.use('/.well-known', inner);
    const res = await request(outer).get('/.well-known/oauth-protected-resource/mcp');
    expect(res.status).toBe(200);
    expect(res.body.resource).toBe(RESOURCE);
    expect(reached).toBe(0);
  });
});
