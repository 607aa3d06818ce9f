/**
 * A dual-era SDK v2 endpoint (`helpers/v2-dual-era.ts`: 2026-07-28 through `createMcpHandler`,
 * 2025-era sessions through a sessionful `WebStandardStreamableHTTPServerTransport`, routed with
 * `isLegacyRequest`) behind `protect()` with `toolScopes` and the default `bindSessions`: the
 * session the v2 legacy leg issues is bound to the token's identity, another identity is kept out
 * (404, the legacy leg never runs), the owner's GET stream and DELETE go through, the DELETE
 * releases the binding; the v1 and v2 clients work end to end; mixed 2026 and 2025 traffic keeps
 * apart (a 2026 body carrying another identity's session id gets 404: a composition that routes on
 * the header would run it inside that session).
 */
import { Client as V2Client, StreamableHTTPClientTransport as V2Transport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { isLegacyRequest } from '@modelcontextprotocol/server';
import { startHarness, rpc2025, rpc2026, open2025, V, type Harness } from '../helpers/v2-dual-era.js';

let h: Harness;
beforeAll(async () => { ({ h } = await startHarness()); });
afterAll(async () => { await h.close(); });

const legacyRuns = (from: number) => h.ran.slice(from).filter((r) => r.startsWith('legacy:') || r.startsWith('tool:'));

async function raw(method: string, tok: string, sid: string, extra: Record<string, string> = {}): Promise<{ status: number; body: string; type: string | null }> {
  const abort = new AbortController();
  const res = await fetch(h.url, { method, signal: abort.signal, headers: { authorization: `Bearer ${tok}`, accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25', ...extra } });
  const type = res.headers.get('content-type');
  // A 200 GET is a stream that stays open: do not read it to the end.
  const body = res.status === 200 && type?.startsWith('text/event-stream') ? '' : await res.text();
  abort.abort();
  return { status: res.status, body, type };
}

describe('2025-era sessions served by the v2 server behind the guard', () => {
  test('the session the v2 legacy leg issues is bound: the owner uses it, another user gets 404 on POST, GET and DELETE and the legacy leg never runs', async () => {
    const alice = await h.token('notes:read', 'alice');
    const bob = await h.token('notes:read', 'bob');
    const sid = await open2025(h, alice);
    expect(h.sessions.has(sid)).toBe(true);

    const own = await rpc2025(h, alice, sid, 'tools/call', { name: 'list_notes', arguments: {} });
    expect(own.status).toBe(200);
    expect(own.body.result.content[0].text).toBe('list_notes done for alice');

    const before = h.ran.length;
    const post = await rpc2025(h, bob, sid, 'tools/call', { name: 'list_notes', arguments: {} });
    expect(post.status).toBe(404);
    expect(post.body.error.data.code).toBe('SESSION_NOT_FOUND');
    expect((await raw('GET', bob, sid)).status).toBe(404);
    expect((await raw('DELETE', bob, sid)).status).toBe(404);
    expect(legacyRuns(before)).toEqual([]);
    // Bob's refused DELETE released nothing: the session is still Alice's.
    expect(h.sessions.has(sid)).toBe(true);
    expect((await rpc2025(h, alice, sid, 'ping')).status).toBe(200);
  });

  test('another client of the same user is another identity (404)', async () => {
    const alice = await h.token('notes:read', 'alice', 'client-1');
    const aliceOtherApp = await h.token('notes:read', 'alice', 'client-2');
    const sid = await open2025(h, alice);
    const before = h.ran.length;
    expect((await rpc2025(h, aliceOtherApp, sid, 'ping')).status).toBe(404);
    expect(legacyRuns(before)).toEqual([]);
  });

  test('the owner\'s GET stream opens (200 SSE) through protect() and the adapter', async () => {
    const alice = await h.token('notes:read', 'alice');
    const sid = await open2025(h, alice);
    const get = await raw('GET', alice, sid);
    expect(get).toMatchObject({ status: 200, type: expect.stringMatching(/^text\/event-stream/) });
  });

  test('the owner\'s DELETE ends the session (200) and releases the binding: the id is nobody\'s (404 from the guard, the legacy leg not reached)', async () => {
    const alice = await h.token('notes:read', 'alice');
    const sid = await open2025(h, alice);
    expect((await raw('DELETE', alice, sid)).status).toBe(200);
    expect(h.sessions.has(sid)).toBe(false);
    const before = h.ran.length;
    const after = await rpc2025(h, alice, sid, 'ping');
    expect(after.status).toBe(404);
    expect(after.body.error.data.code).toBe('SESSION_NOT_FOUND');
    expect(legacyRuns(before)).toEqual([]);
  });

  test('the v2 client in its default (2025 "legacy") negotiation: session issued, bound, GET stream, tools, terminateSession', async () => {
    const tok = await h.token('notes:read', 'carol');
    const client = new V2Client({ name: 'v2-legacy', version: '1' });
    const transport = new V2Transport(h.url, { authProvider: { token: async () => tok } });
    await client.connect(transport);
    const sid = transport.sessionId!;
    expect(h.sessions.has(sid)).toBe(true);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['chatty', 'list_notes', 'start_job']);
    expect((await client.callTool({ name: 'list_notes', arguments: {} })).content).toEqual([{ type: 'text', text: 'list_notes done for carol' }]);
    expect(h.ran).toContain(`legacy:GET:${sid}`);
    // Someone else cannot use it.
    expect((await rpc2025(h, await h.token('notes:read', 'mallory'), sid, 'ping')).status).toBe(404);
    await transport.terminateSession();
    await client.close();
    expect(h.sessions.has(sid)).toBe(false);
    expect((await rpc2025(h, tok, sid, 'ping')).status).toBe(404);
  });

  test('the v2 client (legacy mode) whose session the guard no longer binds gets an SdkHttpError with status 404 (the application reconnects)', async () => {
    const tok = await h.token('notes:read', 'erin');
    const client = new V2Client({ name: 'v2-legacy', version: '1' });
    const transport = new V2Transport(h.url, { authProvider: { token: async () => tok } });
    await client.connect(transport);
    const sid = transport.sessionId!;
    // The session ends behind the client's back (its owner's DELETE from elsewhere): the binding is released.
    expect((await raw('DELETE', tok, sid)).status).toBe(200);
    const err = await client.listTools().then(() => undefined, (e: unknown) => e) as { name?: string; data?: { status?: number } };
    expect(err?.data?.status).toBe(404);
    await client.close();
  });

  test('the v1 SDK client (@modelcontextprotocol/sdk) against the dual-era endpoint: session bound, tools filtered, 403 for a forbidden tool', async () => {
    const tok = await h.token('notes:read', 'dave');
    const client = new V1Client({ name: 'v1', version: '1' });
    const transport = new V1Transport(h.url, { requestInit: { headers: { authorization: `Bearer ${tok}` } } });
    await client.connect(transport);
    const sid = transport.sessionId!;
    expect(h.sessions.has(sid)).toBe(true);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['chatty', 'list_notes', 'start_job']);
    const before = h.ran.length;
    await expect(client.callTool({ name: 'add_note', arguments: {} })).rejects.toThrow(/insufficient_scope/);
    expect(h.ran.slice(before).filter((r) => r.startsWith('tool:'))).toEqual([]);
    expect((await rpc2025(h, await h.token('notes:read', 'mallory'), sid, 'ping')).status).toBe(404);
    await transport.terminateSession();
    await client.close();
  });
});

describe('mixed traffic on one endpoint', () => {
  test('a 2026 request (envelope, no session) of one user runs beside another user\'s 2025 session and never reaches the legacy leg', async () => {
    const alice = await h.token('notes:read', 'alice');
    const sid = await open2025(h, alice);
    const before = h.ran.length;
    const r = await rpc2026(h, await h.token('notes:read', 'bob'), 'tools/call', { name: 'list_notes', arguments: {} });
    expect(r.status).toBe(200);
    expect(r.body.result.content[0].text).toBe('list_notes done for bob');
    expect(h.ran.slice(before)).toEqual(['tool:list_notes@bob']);
    expect((await rpc2025(h, alice, sid, 'ping')).status).toBe(200);
  });

  test('a 2026-shaped body carrying another user\'s Mcp-Session-Id: 404 from the guard, nothing runs', async () => {
    const alice = await h.token('notes:read', 'alice');
    const sid = await open2025(h, alice);
    const before = h.ran.length;
    const r = await rpc2026(h, await h.token('notes:read', 'bob'), 'tools/call', { name: 'list_notes', arguments: {} }, { 'mcp-session-id': sid });
    expect(r.status).toBe(404);
    expect(h.ran.slice(before)).toEqual([]);
  });

  test('the owner\'s own session id on a 2026 request passes (the modern path ignores it)', async () => {
    const alice = await h.token('notes:read', 'alice');
    const sid = await open2025(h, alice);
    const r = await rpc2026(h, alice, 'tools/call', { name: 'list_notes', arguments: {} }, { 'mcp-session-id': sid });
    expect(r.status).toBe(200);
  });

  test('what the v2 server would do without the guard\'s 404: isLegacyRequest routes an enveloped body with a session header to the modern path (ignored); a composition that routes on the header first hands it to the session transport, which refuses a 2026 MCP-Protocol-Version (400) but runs the same body without that header inside the other user\'s session', async () => {
    const alice = await h.token('notes:read', 'alice');
    const sid = await open2025(h, alice);
    const body = {
      jsonrpc: '2.0', id: 99, method: 'tools/call',
      params: { name: 'list_notes', arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientInfo': { name: 'x', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } },
    };
    const make = (withVersion: boolean) => new Request(h.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sid, 'mcp-method': 'tools/call', 'mcp-name': 'list_notes',
        ...(withVersion ? { 'mcp-protocol-version': V } : {}),
      },
      body: JSON.stringify(body),
    });
    expect(await isLegacyRequest(make(true), body)).toBe(false);
    expect(await isLegacyRequest(make(false), body)).toBe(false);
    const bobInfo = { token: 'bob', clientId: 'c', scopes: [], extra: { sub: 'bob' } };
    const before = h.ran.length;
    const refused = await h.sessions.get(sid)!.handleRequest(make(true), { parsedBody: body, authInfo: bobInfo });
    expect(refused.status).toBe(400);
    await refused.text();
    const honoured = await h.sessions.get(sid)!.handleRequest(make(false), { parsedBody: body, authInfo: bobInfo });
    expect(honoured.status).toBe(200);
    expect(await honoured.text()).toContain('list_notes done for alice');
    expect(h.ran.slice(before)).toEqual(['tool:list_notes@alice']);
  });
});
