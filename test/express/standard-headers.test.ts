/**
 * MCP 2026-07-28 standard headers (SEP-2243) over HTTP: under a tool policy, an `Mcp-Method` or
 * `Mcp-Name` that disagrees with the body the guard decided on is refused (400 `invalid_request`,
 * `header_mismatch`, JSON-RPC -32020, the spec's `HeaderMismatch`) and the handler never runs, so a gateway or server acting on the header cannot
 * be handed an operation the guard did not allow. Headers that agree, or none, pass.
 */
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import type { Options } from '../../lib/index.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const TOOLS = { delete_note: ['notes:write'], read_note: ['notes:read'], '*': ['mcp'] };
const V = 'io.modelcontextprotocol/protocolVersion';

function app(extra: Partial<Options> = {}, json = true, toolPolicy?: boolean): TestApp {
  const a = buildApp({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: TOOLS, ...extra }, { json, protect: toolPolicy === undefined ? undefined : { toolPolicy } });
  fx.track(a);
  return a;
}
/** A 2026-07-28 tools/call. */
const call = (name: string, id: unknown = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {}, _meta: { [V]: '2026-07-28' } } });

describe.each([['with express.json()', true], ['without a body parser', false]])('standard headers %s', (_label, json) => {
  test('Mcp-Name naming another tool than the body: 400 -32020 HEADER_MISMATCH, handler not run', async () => {
    const t = app({}, json);
    // The token may read but not delete: the header says read_note, the body runs delete_note.
    const token = await fx.token({ scope: 'notes:read notes:write mcp' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`)
      .set('Mcp-Method', 'tools/call').set('Mcp-Name', 'read_note').send(call('delete_note', 'a-7'));
    expect(res.status).toBe(400);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_request", error_description="The Mcp-Name header does not name the params\.name of the request body"/);
    expect(res.body).toMatchObject({ jsonrpc: '2.0', id: 'a-7', error: { code: -32020, message: 'Header mismatch', data: { code: 'HEADER_MISMATCH', error: 'invalid_request' } } });
    expect(t.calls()).toBe(0);
  });

  test('Mcp-Method naming another method than the body: 400, handler not run', async () => {
    const t = app({}, json);
    const token = await fx.token({ scope: 'mcp notes:write' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`)
      .set('Mcp-Method', 'tools/list').send(call('delete_note'));
    expect(res.status).toBe(400);
    expect(res.body.error.data.error_description).toMatch(/Mcp-Method/);
    expect(t.calls()).toBe(0);
  });

  test('headers that agree (plain or Base64) and no headers at all reach the handler', async () => {
    const t = app({}, json);
    const token = await fx.token({ scope: 'notes:write' });
    const plain = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`)
      .set('Mcp-Method', 'tools/call').set('Mcp-Name', 'delete_note').send(call('delete_note'));
    expect(plain.status).toBe(200);
    const encoded = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`)
      .set('Mcp-Method', 'tools/call').set('Mcp-Name', `=?base64?${Buffer.from('delete_note').toString('base64')}?=`).send(call('delete_note'));
    expect(encoded.status).toBe(200);
    const none = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(call('delete_note'));
    expect(none.status).toBe(200);
    expect(t.calls()).toBe(3);
  });

  test('the token is checked first: a mismatch without a valid token is a 401', async () => {
    const t = app({}, json);
    const res = await request(t.app).post('/mcp').set('Mcp-Method', 'tools/list').send(call('delete_note'));
    expect(res.status).toBe(401);
    expect(t.calls()).toBe(0);
  });

  test('a header beside a batch: 400 (a batch carries no standard headers)', async () => {
    const t = app({}, json);
    const token = await fx.token({ scope: 'mcp notes:read' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`)
      .set('Mcp-Name', 'read_note').send([{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'read_note' } }]);
    expect(res.status).toBe(400);
    expect(res.body.error.data.code).toBe('HEADER_MISMATCH');
    expect(t.calls()).toBe(0);
  });
});

test('control: on a route without the tool policy the guard decides nothing on the body, and leaves the headers alone', async () => {
  const t = app({}, true, false);
  const token = await fx.token({ scope: 'mcp' });
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`)
    .set('Mcp-Method', 'tools/list').set('Mcp-Name', 'read_note').send(call('delete_note'));
  expect(res.status).toBe(200);
  expect(t.calls()).toBe(1);
});
