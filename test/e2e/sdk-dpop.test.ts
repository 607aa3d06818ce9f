/**
 * DPoP end to end with real parts only: the MCP SDK's `Client` and `StreamableHTTPClientTransport`
 * with `fetch: dpopFetch(...)` (examples/dpop-fetch.ts), a stateful SDK `McpServer` (transports by
 * session id: POST, the GET stream, DELETE) behind `mcpAuth({ dpop: 'required' })`, and a
 * DPoP-bound JWT access token from a real oidc-provider (its token endpoint proof made by the
 * example's `dpopProof`). Real HTTP on 127.0.0.1. A middleware in front of the guard records every
 * request's method and proof `jti`, so "a fresh proof per request" is counted where it arrives.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { decodeJwt } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { mcpAuth, type AuthInfo, type McpAuthGuard, type Options } from '../../lib/index.js';
import { dpopFetch, dpopProof } from '../../examples/dpop-fetch.js';
import { makeDpopKey, type DpopKey } from '../helpers/dpop.js';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.js';

/** What reached the server, before the guard: method, session and the proof's jti, htm, htu (`undefined` without a DPoP header). */
interface Arrival { method: string; session: string | undefined; authorization: string; jti?: string; htm?: string; htu?: string; nonce?: string }
/** What the client got back, as its fetch saw it. */
interface Answer { method: string; status: number; challenge: string | null }

let op: TestProvider;
let http: Server;
let url: URL;
let guard: McpAuthGuard;
/** `/mcp-nonce`: the same server behind a guard that asks for DPoP server nonces (`dpopNonceSeconds`). */
let nonceUrl: URL;
let nonceGuard: McpAuthGuard;
let key: DpopKey;
const transports = new Map<string, StreamableHTTPServerTransport>();
const arrivals: Arrival[] = [];
const decisions: string[] = [];
const authSeen: (AuthInfo | undefined)[] = [];
/** POSTs the guard let through to the MCP handler. */
let posted = 0;

function buildServer(): McpServer {
  const mcp = new McpServer({ name: 'dpop-notes', version: '1.0.0' });
  mcp.registerTool('whoami', { description: 'the key the token is bound to' }, (extra) => {
    authSeen.push(extra.authInfo as AuthInfo | undefined);
    const cnf = extra.authInfo?.extra?.cnf as { jkt?: string } | undefined;
    return { content: [{ type: 'text', text: `${extra.authInfo?.clientId}/${cnf?.jkt}` }] };
  });
  return mcp;
}

beforeAll(async () => {
  // The resource URL must be known before the provider and the guard are: bind first.
  const app = express();
  http = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);
  nonceUrl = new URL('/mcp-nonce', url);
  op = await startTestProvider({ [url.href]: { format: 'jwt', scope: 'mcp notes:read' }, [nonceUrl.href]: { format: 'jwt', scope: 'mcp notes:read' } });
  key = await makeDpopKey('ES256');
  const guardFor = (resource: URL, more: Partial<Options> = {}): McpAuthGuard => mcpAuth({
    resource: resource.href,
    issuer: op.issuer,
    dpop: 'required',
    toolScopes: { whoami: ['notes:read'] },
    onEvent: (e) => {
      if (e.type === 'allow') decisions.push('allow');
      else if (e.type === 'deny') decisions.push(e.reason);
    },
    ...more,
  });
  guard = guardFor(url);
  nonceGuard = guardFor(nonceUrl, { dpopNonceSeconds: 60 });
  await Promise.all([guard.ready(), nonceGuard.ready()]);

  app.use((req, _res, next) => {
    const proof = req.headers.dpop;
    const a: Arrival = { method: req.method, session: req.headers['mcp-session-id'] as string | undefined, authorization: req.headers.authorization ?? '' };
    if (typeof proof === 'string') {
      const { jti, htm, htu, nonce } = decodeJwt(proof) as { jti?: string; htm?: string; htu?: string; nonce?: string };
      Object.assign(a, { jti, htm, htu, nonce });
    }
    arrivals.push(a);
    next();
  });
  app.use(guard.metadata());
  const mcpPost = async (req: express.Request, res: express.Response): Promise<void> => {
    posted++;
    const sid = req.headers['mcp-session-id'] as string | undefined;
    let transport = sid ? transports.get(sid) : undefined;
    if (!transport) {
      if (sid || !isInitializeRequest(req.body)) { res.status(sid ? 404 : 400).json({ jsonrpc: '2.0', error: { code: -32000, message: 'no session' }, id: null }); return; }
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => { transports.set(id, t); },
      });
      t.onclose = () => { if (t.sessionId) transports.delete(t.sessionId); };
      await buildServer().connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res, req.body);
  };
  const other = async (req: express.Request, res: express.Response) => {
    const transport = transports.get(req.headers['mcp-session-id'] as string);
    if (!transport) { res.status(404).end(); return; }
    await transport.handleRequest(req, res);
  };
  for (const [path, g] of [['/mcp', guard], ['/mcp-nonce', nonceGuard]] as const) {
    app.post(path, g.protect(), express.json(), mcpPost);
    app.get(path, g.protect(), other);
    app.delete(path, g.protect(), other);
  }
});

afterAll(async () => {
  for (const t of transports.values()) await t.close();
  await guard?.close();
  await nonceGuard?.close();
  http?.closeAllConnections();
  await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
  await op?.close();
});

/** A client credentials token from oidc-provider, bound to `k` by a proof made with the example's `dpopProof`. */
async function boundToken(k: DpopKey, resource = url): Promise<string> {
  const dpop = await dpopProof({ privateKey: k.privateKey, publicJwk: k.publicJwk, alg: k.alg, htm: 'POST', htu: op.tokenEndpoint });
  const { status, body } = await op.tokenResponse(resource.href, 'mcp notes:read', { dpop });
  expect({ status, error: body.error, token_type: body.token_type }).toEqual({ status: 200, error: undefined, token_type: 'DPoP' });
  const token = body.access_token as string;
  expect(decodeJwt(token).cnf).toEqual({ jkt: k.thumbprint });
  return token;
}

/** Wrap a fetch to record each answer's status and challenge (the SDK error carries the body only). */
function recording(base: typeof fetch, answers: Answer[]): typeof fetch {
  return async (input, init) => {
    const res = await base(input, init);
    answers.push({ method: init?.method ?? 'GET', status: res.status, challenge: res.headers.get('www-authenticate') });
    return res;
  };
}

/**
 * A token bound to `key` for `target`, and an SDK client on it through the example's `dpopFetch`,
 * connected (its answers recorded in `answers`); `from`: the arrivals before it. Clears `decisions`.
 */
async function dpopClient(target: URL, name: string): Promise<{ token: string; from: number; answers: Answer[]; transport: StreamableHTTPClientTransport; client: Client }> {
  const token = await boundToken(key, target);
  const from = arrivals.length;
  decisions.length = 0;
  const answers: Answer[] = [];
  const transport = new StreamableHTTPClientTransport(target, {
    fetch: recording(dpopFetch({ privateKey: key.privateKey, publicJwk: key.publicJwk, alg: key.alg, accessToken: token }), answers),
  });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  return { token, from, answers, transport, client };
}

/** Resolves when `pred` holds (polled), or fails after `ms`. */
async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("the MCP SDK client with dpopFetch, an SDK McpServer behind mcpAuth({ dpop: 'required' })", () => {
  test('connect, listTools, callTool: every request carries its own proof, the tool sees cnf.jkt', async () => {
    const { token, from, answers, transport, client } = await dpopClient(url, 'dpop-e2e');
    expect(transport.sessionId).toEqual(expect.any(String));

    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['whoami']);
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: `test-cc-client/${key.thumbprint}` }]);
    const info = authSeen[authSeen.length - 1]!;
    expect(info.token).toBe(token);
    expect((info.extra?.cnf as { jkt?: string }).jkt).toBe(key.thumbprint);

    // The GET stream the transport opens after initialization (a request of its own).
    await until(() => arrivals.slice(from).some((a) => a.method === 'GET'), 'the GET stream');
    await transport.terminateSession(); // DELETE, with a proof too
    await client.close();

    const mine = arrivals.slice(from);
    // initialize, notifications/initialized, GET stream, tools/list, tools/call, DELETE
    expect(mine.map((a) => a.method).sort()).toEqual(['DELETE', 'GET', 'POST', 'POST', 'POST', 'POST']);
    for (const a of mine) {
      expect(a.authorization).toBe(`DPoP ${token}`);
      expect(a.jti).toEqual(expect.any(String));
      expect({ htm: a.htm, htu: a.htu }).toEqual({ htm: a.method, htu: url.href });
    }
    const jtis = mine.map((a) => a.jti);
    expect(jtis.length).toBeGreaterThan(1);
    expect(new Set(jtis).size).toBe(jtis.length);
    expect(decisions).toEqual(mine.map(() => 'allow'));
    expect(answers.map((a) => a.status).filter((s) => s >= 400)).toEqual([]);
  });

  test('behind dpopNonceSeconds: the first POST is asked for a nonce and sent again with it; every later proof carries it', async () => {
    const { from, answers, transport, client } = await dpopClient(nonceUrl, 'dpop-nonce-e2e');
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: `test-cc-client/${key.thumbprint}` }]);
    await until(() => arrivals.slice(from).some((a) => a.method === 'GET'), 'the GET stream');
    await transport.terminateSession();
    await client.close();

    const mine = arrivals.slice(from);
    // initialize (without a nonce, then with it), notifications/initialized, GET stream, tools/call, DELETE
    expect(mine.map((a) => a.method).sort()).toEqual(['DELETE', 'GET', 'POST', 'POST', 'POST', 'POST']);
    expect(mine[0]!.nonce).toBeUndefined();
    const nonce = mine[1]!.nonce;
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    for (const a of mine.slice(1)) expect({ nonce: a.nonce, htu: a.htu }).toEqual({ nonce, htu: nonceUrl.href });
    expect(decisions).toEqual(['dpop_nonce_missing', ...mine.slice(1).map(() => 'allow')]);
    // The recording sits outside dpopFetch: it sees the one answer after the retry.
    expect(answers.map((a) => a.status).filter((st) => st >= 400)).toEqual([]);
  });

  test.each([
    ['a plain (unbound) token', () => op.getToken(url.href, 'mcp notes:read')],
    ['the DPoP-bound token', () => boundToken(key)],
  ])('the same client with %s as Bearer (requestInit headers, no dpopFetch): 401 with a DPoP challenge', async (_label, issue) => {
    const token = await issue();
    const answers: Answer[] = [];
    decisions.length = 0;
    const client = new Client({ name: 'bearer-e2e', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(url, {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
      fetch: recording(fetch, answers),
    });
    const err = await client.connect(transport).then(() => undefined, (e: unknown) => e);
    await client.close();
    expect(err).toBeInstanceOf(StreamableHTTPError);
    expect((err as StreamableHTTPError).code).toBe(401);
    expect(answers).toHaveLength(1);
    expect(answers[0]!.status).toBe(401);
    // With 'required' the Bearer scheme is no credential: a bare DPoP challenge (no error, RFC 6750 §3.1).
    expect(answers[0]!.challenge).toMatch(/^DPoP /);
    expect(answers[0]!.challenge).toMatch(/algs="[^"]*ES256[^"]*"/);
    expect(answers[0]!.challenge).not.toContain('error=');
    expect(decisions).toEqual(['missing_token']);
  });

  test('dpopFetch with another key than the token is bound to: 401 invalid_dpop_proof, nothing runs', async () => {
    const token = await boundToken(key);
    const other = await makeDpopKey('ES256');
    const answers: Answer[] = [];
    decisions.length = 0;
    const ran = posted;
    const client = new Client({ name: 'wrong-key-e2e', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(url, {
      fetch: recording(dpopFetch({ privateKey: other.privateKey, publicJwk: other.publicJwk, alg: other.alg, accessToken: token }), answers),
    });
    const err = await client.connect(transport).then(() => undefined, (e: unknown) => e);
    await client.close();
    expect(err).toBeInstanceOf(StreamableHTTPError);
    expect((err as StreamableHTTPError).code).toBe(401);
    expect((err as Error).message).toContain('invalid_dpop_proof');
    expect(answers).toEqual([{ method: 'POST', status: 401, challenge: expect.stringMatching(/^DPoP error="invalid_dpop_proof"/) }]);
    expect(decisions).toEqual(['dpop_key_mismatch']);
    expect(posted).toBe(ran); // the initialize never reached the MCP handler
  });
});
