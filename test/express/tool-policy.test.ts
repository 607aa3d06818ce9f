/** Tool policy over HTTP: single calls, batches, notifications, bad names, 401/403 challenges. */
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import type { Options } from '../../lib/index.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const RM = 'http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp';
const fx = loopbackJwtSuite(RESOURCE);

const TOOLS = { delete_note: ['notes:write'], 'note_*': ['notes:read'], '*': ['mcp'] };

function app(extra: Partial<Options> = {}, json = true): TestApp {
  const a = buildApp({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: TOOLS, ...extra }, { json });
  fx.track(a);
  return a;
}
const call = (name: unknown, id: unknown = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });

describe.each([['with express.json()', true], ['without a body parser', false]])('tool policy %s', (_label, json) => {
  test('an allowed call reaches the handler with req.auth', async () => {
    const t = app({}, json);
    const token = await fx.token({ scope: 'notes:write' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(call('delete_note', 5));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ jsonrpc: '2.0', id: 5, result: { ok: true } });
    expect(t.calls()).toBe(1);
    expect((t.lastAuth() as { scopes: string[] }).scopes).toEqual(['notes:write']);
  });

  test('missing scope: 403 naming the needed scope plus the known scopes held, id echoed', async () => {
    const t = app({}, json);
    const token = await fx.token({ scope: 'notes:read mcp other:unknown' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(call('delete_note', 'req-9'));
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="insufficient_scope", error_description="[^"]+", scope="notes:write notes:read mcp", resource_metadata="http:\/\/127\.0\.0\.1:9\/\.well-known\/oauth-protected-resource\/mcp"$/);
    expect(res.headers['access-control-expose-headers']).toMatch(/WWW-Authenticate/i);
    expect(res.body).toMatchObject({ jsonrpc: '2.0', id: 'req-9', error: { code: -32003, data: { code: 'FORBIDDEN', error: 'insufficient_scope', scope: 'notes:write notes:read mcp', resource_metadata: RM } } });
    expect(t.calls()).toBe(0);
  });

  test('an unmapped tool under a policy without *: 403 with no scope= (no scope can help)', async () => {
    const t = app({ toolScopes: { delete_note: ['notes:write'] } }, json);
    const token = await fx.token({ scope: 'notes:write notes:read' });
    for (const name of ['other', '__proto__', 'constructor', 'toString', 'Delete_Note', 'delete_note ']) {
      const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(call(name, 3));
      expect(res.status).toBe(403);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer error="insufficient_scope", error_description="[^"]+", resource_metadata="[^"]+"$/);
      expect(res.headers['www-authenticate']).not.toMatch(/scope=/);
      expect(res.body.id).toBe(3);
      expect(res.body.error.data.code).toBe('FORBIDDEN');
      expect(res.body.error.data.scope).toBeUndefined();
    }
    expect(t.calls()).toBe(0);
  });

  test('the * rule allows the rest with its scopes', async () => {
    const t = app({}, json);
    const ok = await fx.token({ scope: 'mcp' });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${ok}`).send(call('anything'))).status).toBe(200);
    const none = await fx.token({ scope: 'notes:read' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${none}`).send(call('anything'));
    expect(res.status).toBe(403);
    expect(res.body.error.data.scope).toBe('mcp notes:read');
    expect(t.calls()).toBe(1);
  });

  test('batch: one denied element denies the whole batch (id null); an allowed batch passes', async () => {
    const t = app({}, json);
    const token = await fx.token({ scope: 'notes:read' });
    const denied = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`)
      .send([call('note_get', 1), { jsonrpc: '2.0', id: 2, method: 'ping' }, call('delete_note', 3)]);
    expect(denied.status).toBe(403);
    expect(denied.body.id).toBeNull();
    expect(denied.headers['www-authenticate']).toContain('scope="notes:read notes:write"');
    expect(t.calls()).toBe(0);
    const allowed = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send([call('note_get', 1), call('note_list', 2)]);
    expect(allowed.status).toBe(200);
    expect(t.calls()).toBe(1);
  });

  test('notifications are checked like requests', async () => {
    const t = app({}, json);
    const token = await fx.token({ scope: 'notes:read' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`)
      .send({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'delete_note' } });
    expect(res.status).toBe(403);
    expect(res.body.id).toBeNull();
    expect(t.calls()).toBe(0);
  });

  test('tools/call without a string params.name: 400 INVALID_REQUEST, never a pass', async () => {
    const t = app({ toolScopes: { '*': [] } }, json);
    const token = await fx.token({ scope: 'mcp' });
    for (const body of [
      { jsonrpc: '2.0', id: 4, method: 'tools/call' },
      { jsonrpc: '2.0', id: 4, method: 'tools/call', params: {} },
      call(42, 4), call(null, 4), call(['x'], 4), call({ a: 1 }, 4),
      [call('ok', 1), call(7, 4)],
    ]) {
      const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(body);
      expect(res.status).toBe(400);
      expect(res.body.error.data.code).toBe('INVALID_REQUEST');
      if (!Array.isArray(body)) expect(res.body.id).toBe(4);
    }
    expect(t.calls()).toBe(0);
  });

  test('other methods (tools/list, initialize, ping) need only the required and route scopes', async () => {
    const t = app({ requiredScopes: ['base'] }, json);
    const token = await fx.token({ scope: 'base' });
    for (const method of ['tools/list', 'initialize', 'ping', 'notifications/initialized']) {
      const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 1, method, params: {} });
      expect(res.status).toBe(200);
    }
    const without = await fx.token({ scope: 'mcp' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${without}`).send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toContain('scope="base mcp"');
    expect(t.calls()).toBe(4);
  });
});

describe('challenges under a policy', () => {
  test('401 scope= is requiredScopes ∪ the * rule', async () => {
    const t = app({ requiredScopes: ['base'] });
    const res = await request(t.app).post('/mcp').send(call('x', 8));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(`Bearer scope="base mcp", resource_metadata="${RM}"`);
    expect(res.body.id).toBe(8);
  });

  test('route scopes and tool scopes are named together in one 403', async () => {
    const t = buildApp({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: TOOLS }, { protect: { scopes: ['admin'] } });
    fx.track(t);
    const token = await fx.token({ scope: 'notes:read' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(call('delete_note'));
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toContain('scope="admin notes:write notes:read"');
    const both = await fx.token({ scope: 'admin notes:write' });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${both}`).send(call('delete_note'))).status).toBe(200);
  });

  test('scopes_supported defaults to the base set the 401 names (requiredScopes, the * rule), not every scope of the policy (MCP 2026-07-28: the minimal set; more by step-up)', async () => {
    const t = app({ requiredScopes: ['base'] });
    const res = await request(t.app).get('/.well-known/oauth-protected-resource/mcp');
    expect(res.body.scopes_supported).toEqual(['base', 'mcp']);
    // The policy's scopes stay known: a 403 repeats those the token holds.
    const token = await fx.token({ scope: 'base mcp notes:read' });
    const denied = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(call('delete_note'));
    expect(denied.headers['www-authenticate']).toMatch(/ scope="base notes:write mcp notes:read"/);
  });

  test('without toolScopes there is no default deny', async () => {
    const t = buildApp({ resource: RESOURCE, issuer: fx.as.issuer });
    fx.track(t);
    const token = await fx.token({ scope: 'x' });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(call('anything'))).status).toBe(200);
  });

  test('an invalid token is answered 401 before the body is examined', async () => {
    const t = app({}, false);
    const res = await request(t.app).post('/mcp').set('Authorization', 'Bearer abc.def.ghi').set('Content-Type', 'text/plain').send('hello');
    expect(res.status).toBe(401);
  });
});
