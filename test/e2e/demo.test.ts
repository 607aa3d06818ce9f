/**
 * The demo, end to end and in-process: the development authorization server (oidc-provider),
 * two protected MCP servers (JWT via JWKS; opaque via introspection) and the MCP SDK client
 * walkthrough, all on 127.0.0.1 port 0.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  discoverAuthorizationServerMetadata,
  exchangeAuthorization,
  registerClient,
  startAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { startAuthorizationServer, type DemoAuthorizationServer } from '../../examples/authorization-server.js';
import { runWalkthrough, type StepResult, type WalkthroughResult } from '../../examples/client.js';
import { followAuthorization } from '../../examples/oauth-client-provider.js';
import { startMcpServer, type DemoMcpServer } from '../../examples/mcp-server.js';
import { parseArgs } from '../../examples/start.js';
import { McpAuthError } from '../../lib/index.js';

const REDIRECT = 'http://127.0.0.1:8976/callback';
/** A resource the authorization server issues JWTs for, which is neither MCP server. */
const OTHER_API = 'https://other-api.example/v1';

let as: DemoAuthorizationServer;
let jwtMcp: DemoMcpServer;
let opaqueMcp: DemoMcpServer;
let jwtRun: WalkthroughResult;
let jwtLines: string[];

/** A token of the demo authorization server for any registered resource, through the SDK's own steps. */
async function tokenFor(resource: string, scope = 'notes:read'): Promise<string> {
  const metadata = await discoverAuthorizationServerMetadata(as.issuer);
  const clientInformation = await registerClient(as.issuer, {
    metadata,
    clientMetadata: { redirect_uris: [REDIRECT], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' },
    scope,
  });
  const { authorizationUrl, codeVerifier } = await startAuthorization(as.issuer, { metadata, clientInformation, redirectUrl: REDIRECT, scope, resource });
  const { code } = await followAuthorization(authorizationUrl, REDIRECT);
  if (!code) throw new Error('no authorization code');
  const tokens = await exchangeAuthorization(as.issuer, { metadata, clientInformation, authorizationCode: code, codeVerifier, redirectUri: REDIRECT, resource });
  return tokens.access_token;
}

async function rejection(p: Promise<unknown>): Promise<McpAuthError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof McpAuthError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

function only(result: WalkthroughResult, step: StepResult['step']): StepResult[] {
  return result.steps.filter((s) => s.step === step);
}

async function callMcp(server: DemoMcpServer, token: string): Promise<Response> {
  return fetch(server.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
}

beforeAll(async () => {
  as = await startAuthorizationServer();
  jwtMcp = await startMcpServer({ env: { MCP_AUTH_ISSUER: as.issuer } });
  opaqueMcp = await startMcpServer({
    env: {
      MCP_AUTH_ISSUER: as.issuer,
      MCP_AUTH_TOKEN_FORMAT: 'auto',
      MCP_AUTH_CLIENT_ID: as.introspectionClient.clientId,
      MCP_AUTH_CLIENT_SECRET: as.introspectionClient.clientSecret,
    },
  });
  as.addResource(jwtMcp.url, { format: 'jwt' });
  as.addResource(opaqueMcp.url, { format: 'opaque' });
  as.addResource(OTHER_API, { format: 'jwt' });
  jwtLines = [];
  jwtRun = await runWalkthrough({ mcpUrl: jwtMcp.url, redirectUrl: REDIRECT, log: (l) => jwtLines.push(l) });
});

afterAll(async () => {
  await opaqueMcp?.close();
  await jwtMcp?.close();
  await as?.close();
});

describe('the SDK client against the JWT-protected MCP server', () => {
  test('discovery → registration → PKCE → token → listTools → callTool', () => {
    const challenge = jwtRun.get('challenge');
    expect(challenge).toMatchObject({ ok: true });
    expect(challenge?.data).toMatchObject({ status: 401, scope: 'notes:read', resource_metadata: jwtMcp.guard.config.resourceMetadataUrl });
    expect(challenge?.data.error).toBeUndefined();

    expect(jwtRun.get('resource_metadata')?.data).toMatchObject({ resource: jwtMcp.url, authorization_servers: [as.issuer] });
    expect(jwtRun.get('as_metadata')?.data).toMatchObject({ issuer: as.issuer, code_challenge_methods_supported: ['S256'] });
    // Least privilege: the client registers and asks for what the 401 challenge named.
    expect(jwtRun.get('registration')?.data).toMatchObject({ status: 201, scope: 'notes:read' });
    expect(jwtRun.get('authorization')?.data).toMatchObject({ method: 'S256', resource: jwtMcp.url, scope: 'notes:read' });
    expect(jwtRun.get('token')).toMatchObject({ ok: true });
    expect(jwtRun.get('token')?.data).toMatchObject({ scope: 'notes:read', refresh: true });
    expect(jwtRun.get('connect')).toMatchObject({ ok: true });
    expect(jwtRun.get('list_tools')).toMatchObject({ ok: true });
    expect(jwtRun.get('allowed_call')).toMatchObject({ ok: true });
  });

  test('the access token is an RFC 9068 JWT for this MCP server, and the guard accepts it', async () => {
    const token = jwtRun.provider.tokens()?.access_token ?? '';
    const info = await jwtMcp.guard.verify(token);
    expect(info.extra?.aud).toBe(jwtMcp.url);
    expect(info.extra?.iss).toBe(as.issuer);
    expect(info.extra?.sub).toBe('demo-user');
    expect(info.scopes).toEqual(expect.arrayContaining(['notes:read']));
  });

  test('tools/list is filtered to the tools the token may call', () => {
    expect(jwtRun.get('list_tools')?.data.tools).toEqual(['list_notes']);
    expect(jwtRun.get('step_up_call')?.data.tools).toEqual(['list_notes', 'add_note', 'delete_note']);
  });

  test('step-up: 403 insufficient_scope → the SDK cannot finish → new authorization with the challenged scope → success', () => {
    const denied = jwtRun.get('insufficient_scope');
    expect(denied).toMatchObject({ ok: true });
    expect(denied?.data).toMatchObject({ status: 403, error: 'insufficient_scope' });
    expect(String(denied?.data.scope).split(' ').sort()).toEqual(['notes:read', 'notes:write']);
    expect(jwtRun.get('sdk_step_up')).toMatchObject({ ok: true });
    // The authorization server pinned the first registration's scope: the client registered again.
    const registrations = only(jwtRun, 'registration');
    expect(registrations).toHaveLength(2);
    expect(String(registrations[1]?.data.scope).split(' ').sort()).toEqual(['notes:read', 'notes:write']);
    expect(jwtRun.get('step_up')).toMatchObject({ ok: true });
    expect(jwtRun.get('step_up_call')).toMatchObject({ ok: true });
    expect(jwtRun.steps.filter((s) => !s.ok)).toEqual([]);
  });

  test('refresh rotates the refresh token; the old one is refused, and its replay revokes the grant', () => {
    expect(jwtRun.get('refresh')).toMatchObject({ ok: true });
    expect(jwtRun.get('refresh')?.data.rotated).toBe(true);
    expect(jwtRun.get('replay_refused')?.data.outcome).toBe('invalid_grant');
    expect(jwtRun.get('reuse_detected')?.data.outcome).toBe('invalid_grant');
  });

  test('no token value is printed', () => {
    const text = jwtLines.join('\n');
    const tokens = jwtRun.provider.tokens();
    expect(tokens?.access_token).toBeTruthy();
    expect(text).not.toContain(tokens!.access_token);
    expect(text).not.toContain(tokens!.refresh_token);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});

describe('audience: tokens for another resource of the same authorization server', () => {
  test('a JWT for another resource → 401 invalid_token at the MCP server (audience)', async () => {
    const token = await tokenFor(OTHER_API);
    const before = jwtMcp.handled();
    const res = await callMcp(jwtMcp, token);
    expect(res.status).toBe(401);
    expect(jwtMcp.handled()).toBe(before);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect(((await res.json()) as { error: { data: { code: string } } }).error.data.code).toBe('UNAUTHORIZED');
    expect((await rejection(jwtMcp.guard.verify(token))).reason).toBe('audience_mismatch');
  });

  test('the JWT MCP server\'s own token → 401 at the other MCP server (audience)', async () => {
    const token = await tokenFor(jwtMcp.url);
    // Control: the same token is good where it belongs.
    const home = await callMcp(jwtMcp, token);
    expect(home.status).toBe(200);
    await home.body?.cancel();
    const before = opaqueMcp.handled();
    const res = await callMcp(opaqueMcp, token);
    expect(res.status).toBe(401);
    expect(opaqueMcp.handled()).toBe(before);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect((await rejection(opaqueMcp.guard.verify(token))).reason).toBe('audience_mismatch');
  });

  test('an opaque token for the other MCP server → 401 at the JWT-only MCP server', async () => {
    const token = await tokenFor(opaqueMcp.url);
    expect(token.split('.')).toHaveLength(1);
    const before = jwtMcp.handled();
    const res = await callMcp(jwtMcp, token);
    expect(res.status).toBe(401);
    expect(jwtMcp.handled()).toBe(before);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });
});

describe('opaque access tokens through introspection', () => {
  test('the SDK client works against the MCP server configured with tokenFormat auto + introspection', async () => {
    const run = await runWalkthrough({ mcpUrl: opaqueMcp.url, redirectUrl: REDIRECT, log: () => {}, stepUp: false });
    expect(run.get('token')).toMatchObject({ ok: true });
    expect(run.get('connect')).toMatchObject({ ok: true });
    expect(run.get('list_tools')).toMatchObject({ ok: true });
    expect(run.get('allowed_call')).toMatchObject({ ok: true });
    expect(run.get('refresh')).toMatchObject({ ok: true });
    expect(run.get('replay_refused')).toMatchObject({ ok: true });
    expect(run.steps.filter((s) => !s.ok)).toEqual([]);
    // A fresh opaque token is introspected into the same AuthInfo shape as a JWT.
    const fresh = await tokenFor(opaqueMcp.url);
    expect(fresh.split('.')).toHaveLength(1);
    const info = await opaqueMcp.guard.verify(fresh);
    expect(info.extra?.aud).toBe(opaqueMcp.url);
    expect(info.scopes).toEqual(['notes:read']);
    expect(info.clientId).not.toBe('');
    // Unlike a JWT, an opaque token dies with its grant: the walkthrough's replay revoked it.
    const revoked = run.provider.tokens()?.access_token ?? '';
    expect(revoked.split('.')).toHaveLength(1);
    expect((await rejection(opaqueMcp.guard.verify(revoked))).reason).toBe('token_inactive');
  });
});

/** Run `npm start -- <args>` from the repository root; resolves with the exit code and output. */
function npmStart(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['start', '--silent', '--', ...args], { cwd: root, env: { ...process.env, NODE_OPTIONS: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm start', () => {
  test('parses --once, --opaque and ports; refuses unknown flags and bad ports', () => {
    expect(parseArgs(['--once', '--opaque', '--as-port=0', '--mcp-port=3100'], {})).toEqual({ once: true, opaque: true, asPort: 0, mcpPort: 3100 });
    expect(parseArgs([], { AS_PORT: '4100', MCP_PORT: '3200' })).toEqual({ once: false, opaque: false, asPort: 4100, mcpPort: 3200 });
    expect(() => parseArgs(['--onse'], {})).toThrow();
    expect(() => parseArgs(['--mcp-port=70000'], {})).toThrow();
  });

  test('the start script runs examples/start.ts: an unknown flag exits 2 before anything starts', async () => {
    const { code, stdout } = await npmStart(['--bogus']);
    expect(code).toBe(2);
    expect(stdout).not.toContain('walkthrough');
  }, 30_000);

  test('npm start -- --once runs the walkthrough and exits 0', async () => {
    const { code, stdout } = await npmStart(['--once', '--as-port=0', '--mcp-port=0']);
    expect(stdout).toContain('steps succeeded');
    expect(code).toBe(0);
  }, 30_000);
});
