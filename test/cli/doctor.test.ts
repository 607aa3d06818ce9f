/**
 * `mcp-oauth-guard doctor`, spawned as a child process against the loopback fault server:
 * exit codes and the failing lines (by check id and status, never by wording).
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { checksOf, runCli } from './run-cli.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const CLIENT = { id: 'rs-client', secret: 'rs-secret-0123456789' };

/** RFC 6749 §2.3.1 client_secret_basic: both parts form-urlencoded, then base64. */
function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const [id, secret] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
  if (id === undefined || secret === undefined) return undefined;
  return { id: decodeURIComponent(id.replace(/\+/g, ' ')), secret: decodeURIComponent(secret.replace(/\+/g, ' ')) };
}
const goodCredentials = (header: string | undefined) => {
  const c = basicCredentials(header);
  return c?.id === CLIENT.id && c.secret === CLIENT.secret;
};
let as: LoopbackAS;
let key: TestKey;

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('RS256');
});
afterAll(() => as.close());
beforeEach(() => {
  as.faults = { discovery: 'ok', jwks: 'ok', introspection: 'ok' };
  as.keys = [key.publicJwk];
  as.metadata = {};
  as.introspect = (r) => (goodCredentials(r.authorization) ? { body: { active: false } } : { status: 401, body: { error: 'invalid_client' } });
  as.resetCounts();
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    MCP_AUTH_RESOURCE: RESOURCE,
    MCP_AUTH_ISSUER: as.issuer,
    MCP_AUTH_HTTP_TIMEOUT_SECONDS: '3',
    ...extra,
  };
}

function statuses(stdout: string): Record<string, string> {
  return Object.fromEntries(Object.entries(checksOf(stdout)).map(([id, c]) => [id, c.status]));
}

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('doctor against a healthy loopback authorization server', () => {
  test('every check passes; exit 0', async () => {
    const r = await runCli(['doctor', '--json'], env({
      MCP_AUTH_CLIENT_ID: CLIENT.id,
      MCP_AUTH_CLIENT_SECRET: CLIENT.secret,
      MCP_AUTH_TOOL_SCOPES: 'delete_note=notes:write;notes_*=notes:read;*=mcp',
    }));
    expect(r.code).toBe(0);
    expect(statuses(r.stdout)).toMatchObject({
      env: 'pass', resource: 'pass', config: 'pass', resource_metadata: 'info', as_metadata: 'pass', issuer: 'pass',
      jwks: 'pass', jwks_keys: 'pass', jwks_algorithms: 'pass', introspection: 'pass', tool_policy: 'info',
    });
    const checks = checksOf(r.stdout);
    expect(checks.resource_metadata!.message).toContain('http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp');
    for (const k of ['delete_note', 'notes_*', 'notes:write', 'notes:read']) expect(checks.tool_policy!.message).toContain(k);
    // The probe reached the endpoint with our credentials, and the secret is never printed.
    expect(as.introspectionRequests.map((q) => goodCredentials(q.authorization))).toEqual([true]);
    expect(r.stdout + r.stderr).not.toContain(CLIENT.secret);
    expect(JSON.parse(r.stdout).ok).toBe(true);
  });

  test("scopes: one the authorization server does not list, but a listed one implies (scopeImplies), is obtainable; one neither covers is warned about", async () => {
    as.metadata = { scopes_supported: ['notes:admin', 'mcp'] };
    const tools = { MCP_AUTH_TOOL_SCOPES: 'delete_note=notes:write;*=mcp' };
    const implied = await runCli(['doctor', '--json'], env({ ...tools, MCP_AUTH_SCOPE_IMPLIES: 'notes:admin=notes:write' }));
    expect(statuses(implied.stdout).scopes).toBe('pass');
    const plain = await runCli(['doctor', '--json'], env(tools));
    expect(statuses(plain.stdout).scopes).toBe('warn');
    expect(checksOf(plain.stdout).scopes!.message).toContain('notes:write');
  });

  test('dpop: off is not checked; on, the authorization server must list a DPoP algorithm the guard accepts (none listed: warn; none shared: fail, exit 1)', async () => {
    expect(statuses((await runCli(['doctor', '--json'], env())).stdout).dpop).toBeUndefined();
    const none = await runCli(['doctor', '--json'], env({ MCP_AUTH_DPOP: 'allowed' }));
    expect(none.code).toBe(0);
    expect(statuses(none.stdout).dpop).toBe('warn');
    as.metadata = { dpop_signing_alg_values_supported: ['ES256', 'EdDSA'] };
    const shared = await runCli(['doctor', '--json'], env({ MCP_AUTH_DPOP: 'required' }));
    expect(shared.code).toBe(0);
    expect(statuses(shared.stdout).dpop).toBe('pass');
    expect(checksOf(shared.stdout).dpop!.message).toContain('ES256, EdDSA');
    const disjoint = await runCli(['doctor', '--json'], env({ MCP_AUTH_DPOP: 'allowed', MCP_AUTH_DPOP_ALGORITHMS: 'PS256' }));
    expect(disjoint.code).toBe(1);
    expect(statuses(disjoint.stdout).dpop).toBe('fail');
    expect(checksOf(disjoint.stdout).dpop!.fix).toContain('MCP_AUTH_DPOP_ALGORITHMS');
  });

  test('text mode: one line per check, a summary, exit 0', async () => {
    const r = await runCli(['doctor'], env());
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.filter((l) => /^PASS issuer\b/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /^PASS jwks\b/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /^SKIP introspection\b/.test(l))).toHaveLength(1);
    expect(lines.some((l) => l.startsWith('FAIL'))).toBe(false);
    expect(lines.at(-1)).toMatch(/^OK: /);
  });
});

describe('doctor against faults: the failing line and exit 1', () => {
  test('wrong issuer in the metadata', async () => {
    as.metadata.issuer = 'https://login.example.com/tenant/v2.0';
    const r = await runCli(['doctor'], env());
    expect(r.code).toBe(1);
    const line = r.stdout.split('\n').find((l) => /^FAIL issuer\b/.test(l));
    expect(line).toBeDefined();
    expect(line).toContain('https://login.example.com/tenant/v2.0'); // the value to set is named
    expect(line).toContain('fix:');
    expect(r.stdout.split('\n').at(-2)).toMatch(/^FAILED: /);
  });

  test('metadata unreachable and no MCP_AUTH_JWKS_URI', async () => {
    as.faults.discovery = '404';
    const r = await runCli(['doctor', '--json'], env());
    expect(r.code).toBe(1);
    expect(statuses(r.stdout)).toMatchObject({ as_metadata: 'fail', issuer: 'skip', jwks: 'fail' });
  });

  test('JWKS unreachable: a closed port, then a 500', async () => {
    const port = await closedPort();
    const r = await runCli(['doctor', '--json'], env({ MCP_AUTH_JWKS_URI: `http://127.0.0.1:${port}/jwks` }));
    expect(r.code).toBe(1);
    expect(statuses(r.stdout)).toMatchObject({ jwks: 'fail', as_metadata: 'pass', issuer: 'pass' });
    expect(checksOf(r.stdout).jwks!.fix).toContain('MCP_AUTH_JWKS_URI');

    as.faults.jwks = '500';
    const r2 = await runCli(['doctor', '--json'], env());
    expect(r2.code).toBe(1);
    expect(statuses(r2.stdout)).toMatchObject({ jwks: 'fail' });
    expect(as.counts.jwks).toBe(1);
  });

  test('private key material in the JWKS', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    as.keys = [key.publicJwk, { ...(await exportJWK(privateKey)), kid: 'leaked' }, { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' }];
    const r = await runCli(['doctor', '--json'], env());
    expect(r.code).toBe(1);
    expect(statuses(r.stdout)).toMatchObject({ jwks: 'pass', jwks_keys: 'fail' });
    const msg = checksOf(r.stdout).jwks_keys!.message;
    expect(msg).toContain('leaked');
    expect(msg).toContain('hmac');
  });

  test('keys the guard leaves out (1024-bit RSA, key_ops without verify): a warning beside a good key, a failure alone', async () => {
    const weak = { ...generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }), kid: 'weak' };
    const encrypting = { ...key.publicJwk, kid: 'enc-only', alg: undefined, use: undefined, key_ops: ['encrypt'] };
    as.keys = [key.publicJwk, weak, encrypting];
    const r = await runCli(['doctor', '--json'], env());
    expect(statuses(r.stdout)).toMatchObject({ jwks_keys: 'warn', jwks_algorithms: 'pass' });
    expect(checksOf(r.stdout).jwks_keys!.message).toMatch(/1 usable.*weak.*enc-only/);
    as.keys = [weak, encrypting];
    const alone = await runCli(['doctor', '--json'], env());
    expect(alone.code).toBe(1);
    expect(statuses(alone.stdout)).toMatchObject({ jwks_keys: 'fail' });
  });

  test('keys and the algorithm allowlist do not overlap', async () => {
    const r = await runCli(['doctor', '--json'], env({ MCP_AUTH_ALGORITHMS: 'ES256,EdDSA' }));
    expect(r.code).toBe(1);
    expect(statuses(r.stdout)).toMatchObject({ jwks_keys: 'pass', jwks_algorithms: 'fail' });
    expect(checksOf(r.stdout).jwks_algorithms!.fix).toContain('RS256');
  });

  test('introspection refuses our client credentials (401, not active:false)', async () => {
    const r = await runCli(['doctor', '--json'], env({ MCP_AUTH_CLIENT_ID: CLIENT.id, MCP_AUTH_CLIENT_SECRET: 'wrong-secret' }));
    expect(r.code).toBe(1);
    expect(statuses(r.stdout)).toMatchObject({ introspection: 'fail', jwks: 'pass' });
    expect(checksOf(r.stdout).introspection!.fix).toContain('MCP_AUTH_CLIENT_SECRET');
    expect(as.counts.introspection).toBe(1);
    expect(r.stdout).not.toContain('wrong-secret');
  });

  test('introspection endpoint down', async () => {
    as.faults.introspection = '500';
    const r = await runCli(['doctor', '--json'], env({ MCP_AUTH_CLIENT_ID: CLIENT.id, MCP_AUTH_CLIENT_SECRET: CLIENT.secret }));
    expect(r.code).toBe(1);
    expect(statuses(r.stdout)).toMatchObject({ introspection: 'fail' });
  });
});

describe('doctor: the configuration itself', () => {
  test('resource forms: fragment, non-loopback http and a non-normalized form fail; a trailing slash warns (exit 0)', async () => {
    const frag = await runCli(['doctor', '--json'], env({ MCP_AUTH_RESOURCE: 'https://mcp.example.com/mcp#x' }));
    expect(frag.code).toBe(1);
    expect(statuses(frag.stdout)).toMatchObject({ resource: 'fail', config: 'fail', network: 'skip' });
    expect(as.counts.discovery + as.counts.jwks).toBe(0);

    const http = await runCli(['doctor', '--json'], env({ MCP_AUTH_RESOURCE: 'http://mcp.example.com/mcp' }));
    expect(http.code).toBe(1);
    expect(statuses(http.stdout)).toMatchObject({ resource: 'fail' });

    const slash = await runCli(['doctor', '--json'], env({ MCP_AUTH_RESOURCE: 'http://127.0.0.1:9/mcp/' }));
    expect(statuses(slash.stdout)).toMatchObject({ resource: 'warn', config: 'pass', issuer: 'pass' });
    expect(slash.code).toBe(0);

    // Not in the URL's own form: the guard refuses it (RFC 9728 §3.3), so the doctor fails it too.
    const upper = await runCli(['doctor', '--json'], env({ MCP_AUTH_RESOURCE: 'http://LOCALHOST:9/mcp' }));
    expect(statuses(upper.stdout)).toMatchObject({ resource: 'fail', config: 'fail', network: 'skip' });
    expect(upper.code).toBe(1);
  });

  test('accepted audiences that leave out the resource: a warning (exit 0)', async () => {
    const r = await runCli(['doctor', '--json'], env({ MCP_AUTH_AUDIENCES: 'api://mcp-server' }));
    expect(statuses(r.stdout)).toMatchObject({ config: 'pass', audience: 'warn', issuer: 'pass' });
    expect(r.code).toBe(0);
    const plain = await runCli(['doctor', '--json'], env());
    expect(checksOf(plain.stdout).audience).toBeUndefined();
  });

  test('missing issuer: the fix names the variable', async () => {
    const r = await runCli(['doctor', '--json'], { MCP_AUTH_RESOURCE: RESOURCE });
    expect(r.code).toBe(1);
    expect(statuses(r.stdout)).toMatchObject({ config: 'fail' });
    expect(checksOf(r.stdout).config!.fix).toContain('MCP_AUTH_ISSUER');
  });

  test('an unknown MCP_AUTH_* variable fails the env check', async () => {
    const r = await runCli(['doctor', '--json'], env({ MCP_AUTH_ISSUR: 'x' }));
    expect(r.code).toBe(1);
    expect(statuses(r.stdout)).toMatchObject({ env: 'fail' });
    expect(checksOf(r.stdout).env!.message).toContain('MCP_AUTH_ISSUER'); // the "did you mean"
  });

  test('usage errors exit 2', async () => {
    const r = await runCli(['doctor', 'extra'], env());
    expect(r.code).toBe(2);
    const u = await runCli(['frobnicate'], env());
    expect(u.code).toBe(2);
    const h = await runCli(['--help'], {});
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('doctor');
  });
});
