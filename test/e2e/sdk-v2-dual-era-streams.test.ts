/**
 * What a real v2 deployment sends through `protect()` (`helpers/v2-dual-era.ts`): list answers in
 * SSE form (`responseMode: 'sse'`) are filtered and sent "private"; `subscriptions/listen` streams
 * flow event by event (the guard's wrappers do not hold them); `server/discover` and 2026
 * notification posts need the base scopes only; `resources/read` answers under `resourceScopes`
 * go out "private", so a shared v2 response cache never serves a gated resource to a token the
 * guard would refuse; and a listen stream whose client left is given up by the handler (the
 * adapter's abort signal).
 */
import { Client, InMemoryResponseCacheStore, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startHarness, rpc2026, V, type Harness } from '../helpers/v2-dual-era.js';

describe('responseMode "sse"', () => {
  let h: Harness;
  beforeAll(async () => { ({ h } = await startHarness({ responseMode: 'sse' })); });
  afterAll(async () => { await h.close(); });

  test('a 2026 tools/list answered as SSE is filtered and goes out cacheScope "private"', async () => {
    const r = await rpc2026(h, await h.token('notes:read'), 'tools/list');
    expect(r.status).toBe(200);
    expect(r.body.result.tools.map((t: { name: string }) => t.name).sort()).toEqual(['chatty', 'list_notes', 'start_job']);
    expect(r.body.result.cacheScope).toBe('private');
  });

  test('a 2026 resources/list answered as SSE is filtered and goes out "private"', async () => {
    const r = await rpc2026(h, await h.token('notes:read'), 'resources/list');
    expect(r.body.result.resources.map((x: { uri: string }) => x.uri)).toEqual(['notes://public/1']);
    expect(r.body.result.cacheScope).toBe('private');
  });

  test('a 2026 task created on an SSE answer is bound (owner 200, stranger 403)', async () => {
    const alice = await h.token('notes:read', 'alice');
    const created = await rpc2026(h, alice, 'tools/call', { name: 'start_job', arguments: {} });
    const taskId = created.body.result.taskId as string;
    expect((await rpc2026(h, alice, 'tasks/get', { taskId })).status).toBe(200);
    expect((await rpc2026(h, await h.token('notes:read', 'bob'), 'tasks/get', { taskId })).status).toBe(403);
  });
});

describe('responseMode "auto"', () => {
  let h: Harness;
  beforeAll(async () => { ({ h } = await startHarness()); });
  afterAll(async () => { await h.close(); });

  test('server/discover passes with base scopes; a token without any tool scope still discovers', async () => {
    const r = await rpc2026(h, await h.token('profile'), 'server/discover');
    expect(r.status).toBe(200);
    expect(r.body.result.supportedVersions).toContain(V);
  });

  // (The tool's log call does not make the v2 server answer in SSE here: the answer is JSON. The
  // SSE path of 2026 answers is covered by the listen stream below.)
  test('a 2026 notification post passes (202) and a tools/call of a tool that logs first is answered through the guard', async () => {
    const tok = await h.token('notes:read');
    const res = await fetch(h.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': V, 'mcp-method': 'notifications/cancelled' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: { 'io.modelcontextprotocol/protocolVersion': V } } }),
    });
    await res.text();
    expect(res.status).toBe(202);
    const r = await rpc2026(h, tok, 'tools/call', { name: 'chatty', arguments: {} });
    expect(r.status).toBe(200);
    expect(r.body.result?.content?.[0]?.text ?? r.body).toBe('chatty done');
  });

  test('a subscriptions/listen stream flows through protect() event by event: the ack, then a change published while it is open', async () => {
    const abort = new AbortController();
    const res = await fetch(h.url, {
      method: 'POST',
      signal: abort.signal,
      headers: { authorization: `Bearer ${await h.token('notes:read')}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': V, 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify({
        jsonrpc: '2.0', id: 7, method: 'subscriptions/listen',
        params: { notifications: { toolsListChanged: true }, _meta: { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } },
      }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let buf = '';
    const next = async (): Promise<any> => {
      for (;;) {
        const end = buf.indexOf('\n\n');
        if (end !== -1) {
          const data = buf.slice(0, end).split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('');
          buf = buf.slice(end + 2);
          if (data) return JSON.parse(data);
          continue;
        }
        const { value, done } = await reader.read();
        if (done) return undefined;
        buf += Buffer.from(value).toString('utf8');
      }
    };
    expect((await next()).method).toBe('notifications/subscriptions/acknowledged');
    h.modern.notify.toolsChanged();
    expect((await next()).method).toBe('notifications/tools/list_changed');
    h.modern.notify.toolsChanged();
    expect((await next()).method).toBe('notifications/tools/list_changed');
    abort.abort();
    await reader.cancel().catch(() => {});
  });
});

describe('resources/read under resourceScopes', () => {
  let h: Harness;
  beforeAll(async () => { ({ h } = await startHarness()); });
  afterAll(async () => { await h.close(); });

  test('a resources/read answer of a URI gated by resourceScopes goes out cacheScope "private", whatever the server said', async () => {
    const r = await rpc2026(h, await h.token('notes:read admin', 'admin'), 'resources/read', { uri: 'notes://admin/1' });
    expect(r.status).toBe(200);
    expect(r.body.result.contents[0].text).toBe('secret');
    expect(r.body.result.cacheScope).toBe('private');
  });

  test('through a shared v2 response cache, a token without the admin scope is never served the admin resource', async () => {
    const store = new InMemoryResponseCacheStore();
    const connect = async (tok: string, partition: string) => {
      const client = new Client({ name: 'review', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' }, responseCacheStore: store, cachePartition: partition });
      await client.connect(new StreamableHTTPClientTransport(h.url, { authProvider: { token: async () => tok } }));
      return client;
    };
    const admin = await connect(await h.token('notes:read admin', 'admin'), 'admin');
    expect((await admin.readResource({ uri: 'notes://admin/1' })).contents[0]).toMatchObject({ text: 'secret' });
    await admin.close();

    const readerTok = await h.token('notes:read', 'reader');
    // Asked directly, the guard refuses the reader (403): the resource is not his to read.
    expect((await rpc2026(h, readerTok, 'resources/read', { uri: 'notes://admin/1' })).status).toBe(403);
    const reader = await connect(readerTok, 'reader');
    try {
      const before = h.ran.length;
      const got = await reader.readResource({ uri: 'notes://admin/1' }).then((r) => r.contents.map((c) => ('text' in c ? c.text : '')), (e: unknown) => e);
      expect(got).not.toEqual(['secret']);
      expect(h.ran.slice(before)).toEqual([]);
    } finally {
      await reader.close();
    }
  });
});

let nextId = 1000;

/** Open a listen stream, read its first event, then disconnect; resolves once the server saw the close. */
async function listenOnce(h: Harness, tok: string): Promise<any> {
  const abort = new AbortController();
  const n = h.closed.length;
  const res = await fetch(h.url, {
    method: 'POST',
    signal: abort.signal,
    headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': V, 'mcp-method': 'subscriptions/listen' },
    body: JSON.stringify({
      jsonrpc: '2.0', id: nextId++, method: 'subscriptions/listen',
      params: {
        notifications: { toolsListChanged: true },
        _meta: { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} },
      },
    }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  let buf = '';
  let first: any;
  while (first === undefined) {
    const { value, done } = await reader.read();
    if (done) {
      // A JSON answer (not a stream): the whole body.
      if (buf.trim().startsWith('{')) first = JSON.parse(buf);
      break;
    }
    buf += Buffer.from(value).toString('utf8');
    const end = buf.indexOf('\n\n');
    if (end !== -1) {
      const data = buf.slice(0, end).split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('');
      buf = buf.slice(end + 2);
      if (data) first = JSON.parse(data);
    }
  }
  abort.abort();
  await reader.cancel().catch(() => {});
  await h.closed[n];
  return first;
}

describe('the adapter', () => {
  test('a listen stream whose client went away is given up (the Request\'s abort signal): the next listen is acknowledged, not refused for the limit', async () => {
    const { h } = await startHarness({ maxSubscriptions: 1 });
    try {
      const tok = await h.token('notes:read', 'alice');
      expect((await listenOnce(h, tok)).method).toBe('notifications/subscriptions/acknowledged');
      const second = await listenOnce(h, tok);
      expect(second?.error?.message).toBeUndefined();
      expect(second.method).toBe('notifications/subscriptions/acknowledged');
    } finally {
      await h.close();
    }
  });

  test('an allowed 2026 tools/call with 200 kB of arguments is served: protect() reads the body (up to maxBodyBytes), no parser with a smaller limit before it', async () => {
    const { h } = await startHarness();
    try {
      const tok = await h.token('notes:read', 'alice');
      const res = await fetch(h.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': V, 'mcp-method': 'tools/call', 'mcp-name': 'list_notes' },
        body: JSON.stringify({
          jsonrpc: '2.0', id: 1, method: 'tools/call',
          params: { name: 'list_notes', arguments: { text: 'x'.repeat(200_000) }, _meta: { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } },
        }),
      });
      const text = await res.text();
      expect({ status: res.status, type: res.headers.get('content-type')?.split(';')[0] }).toEqual({ status: 200, type: 'application/json' });
      expect(JSON.parse(text).result.content[0].text).toBe('list_notes done for alice');
    } finally {
      await h.close();
    }
  });
});
