/**
 * `mcp-oauth-guard check` (and a passing `doctor`) against a real oidc-provider, plus the
 * loopback fault server for an outage. The CLI runs as a child process; its whole output is
 * scanned for token material.
 */
import { createHash } from 'node:crypto';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.js';
import { tokenBuilder } from '../helpers/tokens.js';
import { checksOf, runCli, type CliResult } from './run-cli.js';

const MCP = 'http://127.0.0.1:8123/mcp';
const OTHER = 'http://127.0.0.1:8124/api';
let op: TestProvider;
let as: LoopbackAS;
let key: TestKey;

beforeAll(async () => {
  op = await startTestProvider({ [MCP]: { format: 'jwt', scope: 'mcp notes:read notes:write' }, [OTHER]: { format: 'jwt', scope: 'mcp' } });
  as = await startLoopbackAS();
  key = await makeKey('ES256');
  as.keys = [key.publicJwk];
});
afterAll(async () => {
  await op.close();
  await as.close();
});

const opEnv = (extra: Record<string, string> = {}) => ({ MCP_AUTH_RESOURCE: MCP, MCP_AUTH_ISSUER: op.issuer, ...extra });
const TOOLS = 'delete_note=notes:write;notes_*=notes:read;*=mcp';

/** Fail when the output holds the token, a part of it, or its SHA-256 (hex, base64, base64url). */
function expectNoTokenMaterial(r: CliResult, token: string): void {
  const out = r.stdout + r.stderr;
  const digest = createHash('sha256').update(token).digest();
  const needles = [token, ...token.split('.').filter((p) => p.length >= 8), digest.toString('hex'), digest.toString('base64'), digest.toString('base64url')];
  for (const n of needles) expect(out.includes(n)).toBe(false);
}

describe('against a real oidc-provider', () => {
  test('doctor passes (discovery, JWKS, introspection with the resource-server client); exit 0', async () => {
    const r = await runCli(['doctor', '--json'], opEnv({
      MCP_AUTH_CLIENT_ID: op.introspectionClient.clientId,
      MCP_AUTH_CLIENT_SECRET: op.introspectionClient.clientSecret,
      MCP_AUTH_TOOL_SCOPES: TOOLS,
    }));
    const checks = checksOf(r.stdout);
    expect(Object.fromEntries(Object.entries(checks).map(([k, v]) => [k, v.status]))).toMatchObject({
      as_metadata: 'pass', issuer: 'pass', jwks: 'pass', jwks_keys: 'pass', jwks_algorithms: 'pass', introspection: 'pass', scopes: 'pass',
    });
    expect(checks.as_metadata!.message).toContain(op.issuer);
    expect(r.code).toBe(0);
  });

  test('check <token>: allowed, with the claims that matter and the tools it may call', async () => {
    const token = await op.getToken(MCP, 'mcp notes:read');
    const r = await runCli(['check', token, '--json', '--tool', 'delete_note', '--tool', 'notes_search', '--tool', 'ping'], opEnv({ MCP_AUTH_TOOL_SCOPES: TOOLS }));
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({
      decision: 'allow',
      status: 200,
      token: { kind: 'jwt', length: token.length },
      claims: { verified: true, issuer: op.issuer, audience: [MCP], clientId: 'test-cc-client' },
      toolPolicy: true,
    });
    expect([...report.claims.scopes].sort()).toEqual(['mcp', 'notes:read']);
    expect(report.claims.expiresAt).toBeGreaterThan(Date.now() / 1000);
    expect(report.claims.expires).toMatch(/^in /);
    expect(report.tools.rules).toEqual([
      { name: 'delete_note', allowed: false, missing: ['notes:write'] },
      { name: 'notes_*', allowed: true, missing: [] },
      { name: '*', allowed: true, missing: [] },
    ]);
    expect(report.tools.asked).toEqual([
      { name: 'delete_note', rule: 'delete_note', allowed: false, missing: ['notes:write'] },
      { name: 'notes_search', rule: 'notes_*', allowed: true, missing: [] },
      { name: 'ping', rule: '*', allowed: true, missing: [] },
    ]);
    expectNoTokenMaterial(r, token);
  });

  test('check on stdin (a pasted "Bearer …" header value), text mode', async () => {
    const token = await op.getToken(MCP, 'mcp');
    const r = await runCli(['check'], opEnv({ MCP_AUTH_TOOL_SCOPES: 'delete_note=notes:write' }), `Bearer ${token}\n`);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContain('decision   allow');
    expect(lines.find((l) => l.startsWith('issuer '))).toContain(op.issuer);
    expect(lines.find((l) => l.startsWith('tool rule '))).toMatch(/delete_note: denied/);
    expectNoTokenMaterial(r, token);

    const r2 = await runCli(['check', '-'], opEnv(), token);
    expect(r2.code).toBe(0);
    expect(r2.stdout.split('\n')).toContain('tools      no tool policy (MCP_AUTH_TOOL_SCOPES unset): any tool');
  });

  test('a token for another resource: refused (audience_mismatch), its unverified claims shown; exit 1', async () => {
    const token = await op.getToken(OTHER, 'mcp');
    const r = await runCli(['check', '--json', token], opEnv());
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ decision: 'deny', status: 401, code: 'UNAUTHORIZED', reason: 'audience_mismatch', claims: { verified: false, audience: [OTHER] } });
    expect(report.hint).toContain(MCP);
    expectNoTokenMaterial(r, token);
  });

  test('required scopes missing: refused 403 insufficient_scope', async () => {
    const token = await op.getToken(MCP, 'mcp');
    const r = await runCli(['check', '--json', token], opEnv({ MCP_AUTH_REQUIRED_SCOPES: 'mcp notes:write' }));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ decision: 'deny', status: 403, code: 'FORBIDDEN', reason: 'insufficient_scope', claims: { verified: true } });
  });

  test('garbage is refused (exit 1); an empty token and a bad configuration are usage errors (exit 2)', async () => {
    const r = await runCli(['check', '--json', 'not-a-token'], opEnv());
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ decision: 'deny', reason: 'malformed_token' });
    expect((await runCli(['check'], opEnv(), '  \n')).code).toBe(2);
    const dash = await runCli(['check', '--json', '--', '-starts-with-a-dash'], opEnv());
    expect(dash.code).toBe(1);
    expect(JSON.parse(dash.stdout)).toMatchObject({ decision: 'deny', token: { length: 19 } });
    const bad = await runCli(['check', 'x'], { MCP_AUTH_RESOURCE: MCP });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('issuer');
  });

  test('usage errors never print a token back (one starting with "-" without --, or one given without the command)', async () => {
    const token = '-Zq7pXv9secretOpaqueToken_0123456789abcdef';
    for (const args of [['check', token], ['check', '--json', token], [token.slice(1)], ['Zq7pXv9secretOpaque']]) {
      const r = await runCli(args, opEnv());
      expect(r.code).toBe(2);
      expect(r.stdout + r.stderr).not.toContain(args[args.length - 1]!.replace(/^-/, ''));
    }
    // A mistyped option or command is still named.
    expect((await runCli(['check', '--jsno', 'x'], opEnv())).stderr).toContain('unknown option --jsno');
    expect((await runCli(['doctr'], opEnv())).stderr).toContain('unknown command doctr');
  });
});

describe('against the loopback fault server', () => {
  test('JWKS down: refused 503 jwks_unavailable, with the key event; exit 1', async () => {
    as.faults.jwks = 'reset';
    const sign = tokenBuilder({ issuer: as.issuer, audience: MCP });
    const token = await sign(key);
    const r = await runCli(['check', '--json', token], { MCP_AUTH_RESOURCE: MCP, MCP_AUTH_ISSUER: as.issuer });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ decision: 'deny', status: 503, code: 'AUTH_UNAVAILABLE', reason: 'jwks_unavailable' });
    expect(report.events).toEqual([{ type: 'keys_refresh_failed', issuer: as.issuer, jwksUri: as.jwksUri, reason: 'network' }]);
    expectNoTokenMaterial(r, token);
    as.faults.jwks = 'ok';
    const ok = await runCli(['check', '--json', token], { MCP_AUTH_RESOURCE: MCP, MCP_AUTH_ISSUER: as.issuer });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).claims).toMatchObject({ verified: true, issuer: as.issuer, clientId: 'client-1' });
  });
});
