/** List filtering over HTTP: JSON answers (res.json, writeHead+end, chunked writes) and SSE. */
import { gzipSync } from 'node:zlib';
import express, { type Express, type RequestHandler, type Response } from 'express';
import request from 'supertest';
import { mcpAuth, type GuardEvent, type McpAuthGuard, type Options } from '../../lib/index.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
let as: LoopbackAS;
let key: TestKey;
let token: string;
const guards: McpAuthGuard[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('ES256');
  as.keys = [key.publicJwk];
  token = await tokenBuilder({ issuer: as.issuer, audience: RESOURCE })(key, { scope: 'notes:read' });
});
afterAll(async () => {
  for (const g of guards) await g.close();
  await as.close();
});

const TOOLS = [
  { name: 'note_get', inputSchema: { type: 'object' } },
  { name: 'delete_note', inputSchema: { type: 'object' } },
  { name: 'unmapped', inputSchema: { type: 'object' } },
  { name: 'note_ü', description: 'multi-byte ✓', inputSchema: { type: 'object' } },
];
/** Under POLICY's resourceScopes, with notes:read: kept when a resource it may name can be read. */
const TEMPLATES = [
  { uriTemplate: 'notes://public/{id}', name: 'public' }, // notes://public/ (notes:read): kept
  { uriTemplate: 'notes://{path}', name: 'any' }, // notes:// (admin), but an expansion may fall under notes://public/ (an approximation: {path} encodes '/'): kept
  { uriTemplate: 'notes://private/{id}', name: 'private' }, // only notes:// (admin): dropped
  { uriTemplate: 'file:///{path}', name: 'file' }, // no rule: dropped
  { uriTemplate: '{+uri}', name: 'anything' }, // may name notes://public/…: kept
  { uriTemplate: 'notes://public', name: 'no variable' }, // notes:// (admin) alone: dropped
  { name: 'no uriTemplate' }, // dropped
];
const POLICY: Partial<Options> = {
  toolScopes: { 'note_*': ['notes:read'], delete_note: ['notes:write'] },
  promptScopes: { summary: ['notes:read'], admin: ['admin'] },
  resourceScopes: { 'notes://public/': ['notes:read'], 'notes://': ['admin'] },
};

function answer(msg: { id?: unknown; method?: unknown }): unknown {
  switch (msg.method) {
    case 'tools/list': return { jsonrpc: '2.0', id: msg.id, result: { tools: TOOLS, nextCursor: 'n' } };
    case 'prompts/list': return { jsonrpc: '2.0', id: msg.id, result: { prompts: [{ name: 'summary' }, { name: 'admin' }, { name: 'other' }] } };
    case 'resources/list': return { jsonrpc: '2.0', id: msg.id, result: { resources: [{ uri: 'notes://public/a', name: 'a' }, { uri: 'notes://private/b', name: 'b' }, { uri: 'file:///c', name: 'c' }] } };
    case 'resources/templates/list': return { jsonrpc: '2.0', id: msg.id, result: { resourceTemplates: TEMPLATES } };
    default: return { jsonrpc: '2.0', id: msg.id ?? null, result: {} };
  }
}
function answers(body: unknown): unknown {
  return Array.isArray(body) ? body.map((m) => answer(m as { id?: unknown })) : answer(body as { id?: unknown });
}

function build(handler: RequestHandler, extra: Partial<Options> = {}, events: GuardEvent[] = []): Express {
  const guard = mcpAuth({ resource: RESOURCE, issuer: as.issuer, ...POLICY, ...extra, onEvent: (e) => events.push(e) });
  guards.push(guard);
  const app = express();
  app.use(express.json());
  app.post('/mcp', guard.protect(), handler);
  return app;
}
const list = (app: Express, body: unknown = { jsonrpc: '2.0', id: 1, method: 'tools/list' }) =>
  request(app).post('/mcp').set('Authorization', `Bearer ${token}`).send(body as object);
const names = (res: { body: { result: { tools: { name: string }[] } } }) => res.body.result.tools.map((t) => t.name);

const viaJson: RequestHandler = (req, res) => { res.json(answers(req.body)); };
const viaWriteHead: RequestHandler = (req, res) => {
  const text = JSON.stringify(answers(req.body));
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
};
const viaChunks: RequestHandler = (req, res) => {
  const bytes = Buffer.from(JSON.stringify(answers(req.body)));
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.writeHead(200);
  for (let i = 0; i < bytes.length; i += 7) res.write(bytes.subarray(i, i + 7));
  res.end();
};

describe.each([['res.json()', viaJson, true], ['writeHead + end', viaWriteHead, true], ['chunked writes', viaChunks, false]])('JSON answers via %s', (_l, handler, withLength) => {
  test('tools/list lists only the tools the token may call; a Content-Length fits the new body, a chunked answer stays chunked', async () => {
    const res = await list(build(handler));
    expect(res.status).toBe(200);
    expect(names(res)).toEqual(['note_get', 'note_ü']);
    expect(res.body.result.nextCursor).toBe('n');
    expect(res.body.result.tools[1].description).toBe('multi-byte ✓');
    // Held whole, the filtered answer keeps its framing: the exact length when it had one, else chunked
    // (so trailers a handler adds still go out).
    if (withLength) expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    else expect({ length: res.headers['content-length'], te: res.headers['transfer-encoding'] }).toEqual({ length: undefined, te: 'chunked' });
    expect(res.headers.etag).toBeUndefined();
  });

  test('a batch: only the list answer is filtered', async () => {
    const res = await list(build(handler), [{ jsonrpc: '2.0', id: 'p', method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' }]);
    expect(res.body).toEqual([{ jsonrpc: '2.0', id: 'p', result: {} }, { jsonrpc: '2.0', id: 2, result: { tools: [TOOLS[0], TOOLS[3]], nextCursor: 'n' } }]);
  });

  test('prompts/list and resources/list are filtered by promptScopes and resourceScopes', async () => {
    const app = build(handler);
    const prompts = await list(app, { jsonrpc: '2.0', id: 1, method: 'prompts/list' });
    expect(prompts.body.result.prompts).toEqual([{ name: 'summary' }]);
    const resources = await list(app, { jsonrpc: '2.0', id: 1, method: 'resources/list' });
    expect(resources.body.result.resources).toEqual([{ uri: 'notes://public/a', name: 'a' }]);
  });

  test('resources/templates/list keeps the templates whose expansions may fall under a rule the token satisfies', async () => {
    const res = await list(build(handler), { jsonrpc: '2.0', id: 1, method: 'resources/templates/list' });
    expect(res.body.result.resourceTemplates.map((t: { name: string }) => t.name)).toEqual(['public', 'any', 'anything']);
    // (filterLists: false leaves it whole.)
    const whole = await list(build(handler, { filterLists: false }), { jsonrpc: '2.0', id: 1, method: 'resources/templates/list' });
    expect(whole.body.result.resourceTemplates).toEqual(TEMPLATES);
  });
});

describe('JSON answers: what is left alone', () => {
  test('filterLists: false turns filtering off', async () => {
    const res = await list(build(viaJson, { filterLists: false }));
    expect(names(res)).toEqual(TOOLS.map((t) => t.name));
  });

  test('an answer that lists nothing forbidden is sent byte for byte', async () => {
    const text = '{ "jsonrpc": "2.0", "id": 1, "result": { "tools": [ {"name":"note_get"} ] } }';
    const app = build((_req, res) => { res.type('application/json').send(text); });
    expect((await list(app)).text).toBe(text);
  });

  test('requests without list calls are not touched, nor are error statuses', async () => {
    const raw = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: TOOLS } });
    const app = build((_req, res) => { res.type('application/json').send(raw); });
    expect((await list(app, { jsonrpc: '2.0', id: 1, method: 'ping' })).text).toBe(raw);
    const events: GuardEvent[] = [];
    const failing = build((_req, res) => { res.status(500).type('application/json').send(raw); }, {}, events);
    const res = await list(failing);
    expect(res.status).toBe(500);
    expect(res.text).toBe(raw);
    expect(events.filter((e) => e.type === 'list_unfiltered')).toEqual([]);
  });

  test('an unparseable answer passes unchanged and is reported', async () => {
    const events: GuardEvent[] = [];
    const app = build((_req, res) => { res.type('application/json').send('{"tools": [ oops'); }, {}, events);
    const res = await list(app).buffer(true).parse((r, cb) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => { text += c; });
      r.on('end', () => cb(null, text));
    });
    expect(res.body).toBe('{"tools": [ oops');
    expect(events).toContainEqual({ type: 'list_unfiltered', method: 'tools/list', reason: 'unparseable' });
  });

  test('an unexpected shape passes unchanged and is reported', async () => {
    const events: GuardEvent[] = [];
    const app = build((req, res) => { res.json({ jsonrpc: '2.0', id: (req.body as { id: number }).id, result: { tools: 'none' } }); }, {}, events);
    expect((await list(app)).body.result.tools).toBe('none');
    expect(events).toContainEqual({ type: 'list_unfiltered', method: 'tools/list', reason: 'unexpected_shape' });
  });

  test('a compressed answer passes unchanged and is reported', async () => {
    const events: GuardEvent[] = [];
    const app = build((req, res) => {
      const gz = gzipSync(JSON.stringify(answers(req.body)));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'Content-Length': String(gz.length) });
      res.end(gz);
    }, {}, events);
    const res = await list(app);
    expect(names(res)).toEqual(TOOLS.map((t) => t.name));
    expect(events).toContainEqual({ type: 'list_unfiltered', method: 'tools/list', reason: 'encoded' });
  });
});

/** Write an SSE answer the way the MCP SDK does, cut into awkward pieces. */
function sseHandler(cut: number, lineEnd = '\n'): RequestHandler {
  return (req, res: Response) => {
    const msgs = (Array.isArray(req.body) ? req.body : [req.body]) as { id?: unknown }[];
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    let stream = `id: prime${lineEnd}data: ${lineEnd}${lineEnd}`;
    stream += `event: message${lineEnd}data: {"jsonrpc":"2.0","method":"notifications/message","params":{"tools":["x"]}}${lineEnd}${lineEnd}`;
    for (const m of msgs) stream += `event: message${lineEnd}id: e-${String(m.id)}${lineEnd}data: ${JSON.stringify(answer(m))}${lineEnd}${lineEnd}`;
    const bytes = Buffer.from(stream);
    for (let i = 0; i < bytes.length; i += cut) res.write(bytes.subarray(i, i + cut));
    res.end();
  };
}

function events(text: string): { id?: string; data?: string; event?: string }[] {
  return text.split(/\r\n\r\n|\n\n|\r\r/).filter((b) => b !== '').map((block) => {
    const e: Record<string, string> = {};
    for (const line of block.split(/\r\n|\n|\r/)) {
      const i = line.indexOf(':');
      const k = i === -1 ? line : line.slice(0, i);
      const v = i === -1 ? '' : line.slice(i + 1).replace(/^ /, '');
      e[k] = k in e ? `${e[k]}\n${v}` : v;
    }
    return e;
  });
}

describe('SSE answers', () => {
  test.each([[1], [5], [64], [100000]])('tools/list answer filtered, other events byte-exact (pieces of %i bytes)', async (cut) => {
    const res = await list(build(sseHandler(cut)), { jsonrpc: '2.0', id: 7, method: 'tools/list' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.text.startsWith('id: prime\ndata: \n\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"tools":["x"]}}\n\n')).toBe(true);
    const evs = events(res.text);
    expect(evs).toHaveLength(3);
    expect(evs[2]!.event).toBe('message');
    expect(evs[2]!.id).toBe('e-7');
    const msg = JSON.parse(evs[2]!.data!) as { id: number; result: { tools: { name: string }[] } };
    expect(msg.id).toBe(7);
    expect(msg.result.tools.map((t) => t.name)).toEqual(['note_get', 'note_ü']);
  });

  test('an SSE answer with a Content-Length (as @hono/node-server sends a finished stream) is held and resized', async () => {
    const app = build((req, res) => {
      const text = `event: message\ndata: ${JSON.stringify(answer(req.body as { id: number }))}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-length': Buffer.byteLength(text) });
      res.write(new Uint8Array(Buffer.from(text)));
      res.end();
    });
    const res = await list(app);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    const evs = events(res.text);
    expect((JSON.parse(evs[0]!.data!) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name)).toEqual(['note_get', 'note_ü']);
  });

  test('CRLF line ends and a batch with several list calls', async () => {
    const res = await list(build(sseHandler(3, '\r\n')), [
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: 2, method: 'ping' },
      { jsonrpc: '2.0', id: 3, method: 'prompts/list' },
    ]);
    const evs = events(res.text);
    expect(evs).toHaveLength(5);
    expect((JSON.parse(evs[2]!.data!) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name)).toEqual(['note_get', 'note_ü']);
    expect(JSON.parse(evs[3]!.data!)).toEqual({ jsonrpc: '2.0', id: 2, result: {} });
    expect((JSON.parse(evs[4]!.data!) as { result: { prompts: unknown[] } }).result.prompts).toEqual([{ name: 'summary' }]);
  });

  test('an unparseable event passes unchanged and is reported', async () => {
    const evs: GuardEvent[] = [];
    const app = build((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"tools":[');
      res.end('{"name":"delete_note"}]\n\n');
    }, {}, evs);
    const res = await list(app);
    expect(res.text).toBe('event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"delete_note"}]\n\n');
    expect(evs).toContainEqual({ type: 'list_unfiltered', method: 'tools/list', reason: 'unparseable' });
  });

  test('a batch that repeats an id: every answer with that id is filtered, whatever answers first', async () => {
    const oneEventEach: RequestHandler = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      for (const m of req.body as { id: number }[]) res.write(`event: message\ndata: ${JSON.stringify(answer(m))}\n\n`);
      res.end();
    };
    const app = build(oneEventEach);
    const batches = [
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', id: 1, method: 'tools/list' }],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', id: 1, method: 'prompts/list' }],
      [{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 1, method: 'tools/list' }],
    ];
    for (const batch of batches) {
      const got = events((await list(app, batch)).text).map((e) => (JSON.parse(e.data!) as { result: Record<string, { name?: string }[]> }).result);
      expect(got).toHaveLength(2);
      for (const result of got) {
        if (result.tools) expect(result.tools.map((t) => t.name)).toEqual(['note_get', 'note_ü']);
        if (result.prompts) expect(result.prompts).toEqual([{ name: 'summary' }]);
      }
    }
  });

  test('once every list call is answered, later events stream through untouched', async () => {
    const later = 'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"delete_note"}]}}\n\n';
    const app = build((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(answer(req.body as { id: number }))}\n\n`);
      res.write(later);
      res.end();
    });
    const res = await list(app);
    const evs = events(res.text);
    expect((JSON.parse(evs[0]!.data!) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name)).toEqual(['note_get', 'note_ü']);
    expect(res.text.endsWith(later)).toBe(true);
  });
});
