/**
 * Resource templates whose literal text is not all URI characters: RFC 6570 §3.1 copies such a
 * character (a space, non-ASCII, `"`, `<`, `>`, `\`, `^`, `` ` ``, `|`, a stray `%`) as its UTF-8
 * pct-encoded bytes, so the expansions of `file:///srv/My Documents/{name}` start with
 * `file:///srv/My%20Documents/`. A `resourceScopes` key in that encoded form grants the reads
 * (`compilePrefixRules` also resolves the WHATWG form, which encodes the space and the é), and the
 * template is listed to a token holding its scopes: the literal prefix is looked up in both forms.
 */
import express from 'express';
import { mcpAuth, type Options } from '../../lib/index.js';
import { compileTemplateRules } from '../../lib/policy/resolve.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';

const RESOURCE_SCOPES = {
  'file:///srv/My%20Documents/': ['docs:read'],
  'file:///srv/caf%C3%A9/': ['docs:read'],
  'file:///': ['admin'],
};
const TEMPLATES = [
  { uriTemplate: 'file:///srv/My Documents/{name}', name: 'documents' },
  { uriTemplate: 'file:///srv/café/{name}', name: 'cafe' },
  { uriTemplate: 'file:///srv/private/{name}', name: 'private' },
];

const fx = loopbackJwtSuite('http://127.0.0.1:9/mcp');
let srv: Listening;
let url: string;
let token: string;

beforeAll(async () => {
  const guard = fx.track(mcpAuth({ resource: 'http://127.0.0.1:9/mcp', issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, resourceScopes: RESOURCE_SCOPES } as Options));
  const app = express();
  app.post('/mcp', guard.protect(), express.json(), (req, res) => {
    const msg = req.body as { id: unknown; method: string; params?: { uri?: string } };
    if (msg.method === 'resources/templates/list') res.json({ jsonrpc: '2.0', id: msg.id, result: { resourceTemplates: TEMPLATES } });
    else if (msg.method === 'resources/read') res.json({ jsonrpc: '2.0', id: msg.id, result: { contents: [{ uri: msg.params!.uri, text: 'x' }] } });
    else res.json({ jsonrpc: '2.0', id: msg.id, result: {} });
  });
  srv = await listen(app);
  url = `${srv.url}/mcp`;
  token = await fx.token({ scope: 'docs:read' });
});
afterAll(async () => { await srv?.close(); });

async function post(body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

test('a template whose literal text needs pct-encoding is listed to a token that can read its (encoded) expansions', async () => {
  // The RFC 6570 expansions of both templates are readable with docs:read: the guard lets the reads through.
  for (const uri of ['file:///srv/My%20Documents/a.txt', 'file:///srv/caf%C3%A9/a.txt']) {
    const read = await post({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri } });
    expect(read.status).toBe(200);
  }
  // The raw spelling is not: its WHATWG form falls under the encoded key, but as sent it is file:/// (admin).
  expect((await post({ jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri: 'file:///srv/My Documents/a.txt' } })).status).toBe(403);
  const list = await post({ jsonrpc: '2.0', id: 2, method: 'resources/templates/list' });
  expect(list.status).toBe(200);
  expect(list.body.result.resourceTemplates.map((t: { name: string }) => t.name)).toEqual(['documents', 'cafe']);
});

test('compileTemplateRules: a literal is compared in its RFC 6570-expanded (pct-encoded) form too', () => {
  const rules = compileTemplateRules(RESOURCE_SCOPES);
  expect(rules('file:///srv/My Documents/{name}')).toContainEqual(['docs:read']);
  expect(rules('file:///srv/café/{name}')).toContainEqual(['docs:read']);
  // No expression: the template names one URI, file:///srv/My%20Documents/index.txt.
  expect(rules('file:///srv/My Documents/index.txt')).toContainEqual(['docs:read']);
  // (Not every key: a template under another prefix does not reach them.)
  expect(rules('file:///srv/private/{name}')).toEqual([['admin']]);
});
