/**
 * The peer range says Express 4.18+ or 5: the same guard behind an Express 4 app (`express4` is
 * express@4 under an alias). The wire answers, `req.auth`, the tool policy with and without a
 * body parser, and the metadata router behave as under Express 5.
 */
import express4 from 'express4';
import request from 'supertest';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const RM = 'http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp';
const fx = loopbackJwtSuite(RESOURCE);
let runs = 0;
let lastScopes: string[] | undefined;

function app4(json: boolean): { app: ReturnType<typeof express4>; guard: McpAuthGuard } {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { delete_note: ['notes:write'], '*': ['notes:read'] } }));
  const app = express4();
  if (json) app.use(express4.json());
  app.use(guard.metadata());
  app.post('/mcp', guard.protect(), (req, res) => {
    runs++;
    lastScopes = req.auth?.scopes;
    res.json({ jsonrpc: '2.0', id: (req.body as { id?: unknown } | undefined)?.id ?? null, result: {} });
  });
  return { app, guard };
}
beforeEach(() => { runs = 0; lastScopes = undefined; });
const call = (name: string) => ({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name, arguments: {} } });

describe.each([['with express.json()', true], ['without a body parser', false]])('Express 4, %s', (_label, json) => {
  test('no token: 401 with the challenge and the JSON-RPC body', async () => {
    const res = await request(app4(json).app).post('/mcp').send(call('list_notes'));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(`Bearer scope="notes:read", resource_metadata="${RM}"`);
    expect(res.body).toMatchObject({ jsonrpc: '2.0', error: { data: { code: 'UNAUTHORIZED' } } });
    expect(runs).toBe(0);
  });

  test('an allowed tool call runs with req.auth', async () => {
    const res = await request(app4(json).app).post('/mcp').set('Authorization', `Bearer ${await fx.token({ scope: 'notes:read' })}`).send(call('list_notes'));
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(4);
    expect(lastScopes).toEqual(['notes:read']);
  });

  test('a tool that needs more scope: 403 insufficient_scope before the handler', async () => {
    const res = await request(app4(json).app).post('/mcp').set('Authorization', `Bearer ${await fx.token({ scope: 'notes:read' })}`).send(call('delete_note'));
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe(`Bearer error="insufficient_scope", error_description="The access token lacks the required scope", scope="notes:write notes:read", resource_metadata="${RM}"`);
    expect(res.body.id).toBe(4);
    expect(runs).toBe(0);
  });

  test('a text/plain tool call is refused (415), never treated as "no tool"', async () => {
    const res = await request(app4(json).app).post('/mcp').set('Authorization', `Bearer ${await fx.token({ scope: 'notes:write notes:read' })}`)
      .set('Content-Type', 'text/plain').send(JSON.stringify(call('delete_note')));
    expect(res.status).toBe(415);
    expect(res.body.error.data.code).toBe('INVALID_REQUEST');
    expect(runs).toBe(0);
  });

  test('a POST without a body passes on the base scopes, as under Express 5 (express.json() leaves {} on it)', async () => {
    const res = await request(app4(json).app).post('/mcp').set('Authorization', `Bearer ${await fx.token({ scope: 'notes:read' })}`);
    expect(res.status).toBe(200);
    expect(runs).toBe(1);
  });
});

test('Express 4: a call a middleware put on req.body of a bodiless POST is not waved through', async () => {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { delete_note: ['notes:write'], '*': ['notes:read'] } }));
  const app = express4();
  app.use(express4.json());
  app.use((req, _res, next) => { req.body = call('delete_note'); next(); });
  app.post('/mcp', guard.protect(), (_req, res) => { runs++; res.json({}); });
  const res = await request(app).post('/mcp').set('Authorization', `Bearer ${await fx.token({ scope: 'notes:read' })}`);
  expect(res.status).toBe(415);
  expect(runs).toBe(0);
});

test('Express 4: the metadata document at the path form and the root form', async () => {
  const { app } = app4(true);
  for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
    const res = await request(app).get(path);
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.body).toMatchObject({ resource: RESOURCE, authorization_servers: [fx.as.issuer], bearer_methods_supported: ['header'] });
  }
});
