/**
 * MCP 2026-07-28 standard headers on the wire, bytes as a client (or an attacker) sends them: the
 * guard must read `Mcp-Name` as a gateway that follows SEP-2243 reads it, or the two act on
 * different names. A Base64 sentinel is UTF-8 exactly (a byte order mark is part of the name), a
 * raw value is printable ASCII only (Node reads other bytes as Latin-1), `=?base64?=` is a sentinel
 * (the SDK decodes it to the empty name), and each header appears once.
 */
import { buildApp, type TestApp } from '../helpers/app.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, rawRequest, type Listening } from '../helpers/http.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const V = 'io.modelcontextprotocol/protocolVersion';
const TOOLS = { delete_note: ['notes:write'], read_note: ['notes:read'], '*': ['mcp'] };
/** What the SDK v2 client sends for a name that is not plain printable ASCII (`encodeMcpParamValue`). */
const b64 = (name: string | Buffer): string => `=?base64?${(typeof name === 'string' ? Buffer.from(name, 'utf8') : name).toString('base64')}?=`;

let t: TestApp;
let srv: Listening;
beforeAll(async () => {
  t = fx.track(buildApp({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: TOOLS }));
  srv = await listen(t.app);
});
afterAll(async () => { await srv.close(); });

async function call(name: string, nameLines: string[], { latin1Head = false, scope = 'notes:write notes:read mcp' } = {}) {
  const token = await fx.token({ scope });
  const before = t.calls();
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {}, _meta: { [V]: '2026-07-28' } } });
  const lines = ['Authorization', `Bearer ${token}`, 'Content-Type', 'application/json', 'Mcp-Method', 'tools/call', ...nameLines.flatMap((v) => ['Mcp-Name', v])];
  const res = await rawRequest(`${srv.url}/mcp`, 'POST', lines, body, { latin1Head });
  return { status: res.status, code: (res.json() as { error?: { code?: number } }).error?.code, ran: t.calls() - before };
}

test('a sentinel decoding to a byte order mark + "delete_note" does not name "delete_note": 400 -32020, not run', async () => {
  expect(await call('delete_note', [b64(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('delete_note')]))])).toEqual({ status: 400, code: -32020, ran: 0 });
});

test('a name that starts with U+FEFF, Base64-encoded as the client does, names just that', async () => {
  expect(await call('\uFEFFnote', [b64('\uFEFFnote')])).toEqual({ status: 200, code: undefined, ran: 1 });
});

test('a raw non-ASCII value (Latin-1 bytes, not the spec\'s Base64) is refused; the Base64 form of the same name passes', async () => {
  const name = 'supprimer_élément';
  expect(await call(name, [name], { latin1Head: true })).toEqual({ status: 400, code: -32020, ran: 0 });
  expect(await call(name, [b64(name)])).toEqual({ status: 200, code: undefined, ran: 1 });
});

test('"=?base64?=" is a sentinel (the empty name, as the SDK reads it), not the literal name', async () => {
  expect(await call('=?base64?=', ['=?base64?='])).toEqual({ status: 400, code: -32020, ran: 0 });
  expect(await call('=?base64?=', [b64('=?base64?=')])).toEqual({ status: 200, code: undefined, ran: 1 });
});

test('two Mcp-Name lines are no one name, even when their join is the body\'s name: 400 -32020, not run', async () => {
  expect(await call('read_note, x', ['read_note', 'x'])).toEqual({ status: 400, code: -32020, ran: 0 });
  expect(await call('read_note', ['read_note', 'read_note'])).toEqual({ status: 400, code: -32020, ran: 0 });
});
