/**
 * The guard discovers RFC 8414 first and, when that request got an answer it cannot use (here a
 * document naming another issuer: a multi-tenant server that ignores the path suffix), falls back
 * to OpenID Connect discovery. The doctor does the same (it took the first JSON document it
 * fetched and failed the `issuer` check, with a fix that would have broken the guard).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { tokenBuilder } from '../helpers/tokens.js';
import { checksOf, runCli } from './run-cli.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
let server: Server;
let base: string;
let issuer: string;
let key: TestKey;

beforeAll(async () => {
  key = await makeKey('ES256');
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', base).pathname;
    const json = (body: unknown) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    if (path === '/.well-known/oauth-authorization-server/tenant') {
      // The default tenant's metadata, whatever the suffix.
      return json({ issuer: base, jwks_uri: `${base}/jwks`, response_types_supported: ['code'] });
    }
    if (path === '/tenant/.well-known/openid-configuration') {
      return json({ issuer, jwks_uri: `${issuer}/jwks`, response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['ES256'] });
    }
    if (path === '/tenant/jwks') return json({ keys: [key.publicJwk] });
    if (path === '/jwks') return json({ keys: [] });
    res.writeHead(404, { 'content-type': 'application/json' }); res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = `${base}/tenant`;
});
afterAll(async () => { await new Promise<void>((r) => server.close(() => r())); });

const env = () => ({ MCP_AUTH_RESOURCE: RESOURCE, MCP_AUTH_ISSUER: issuer, MCP_AUTH_HTTP_TIMEOUT_SECONDS: '3' });

test('check accepts a token with this configuration (the guard falls back to OIDC discovery)', async () => {
  const token = await tokenBuilder({ issuer, audience: RESOURCE })(key);
  const r = await runCli(['check', '--json'], env(), token);
  expect(JSON.parse(r.stdout).decision).toBe('allow');
  expect(r.code).toBe(0);
});

test('doctor passes the same configuration: issuer and jwks as the guard sees them; exit 0', async () => {
  const r = await runCli(['doctor', '--json'], env());
  const checks = checksOf(r.stdout);
  expect(checks.issuer!.status).toBe('pass');
  expect(checks.jwks_keys!.status).toBe('pass');
  expect(r.code).toBe(0);
});
