/**
 * `challengeScope: 'all'` with an explicit `scopesSupported` that leaves out the base scopes
 * (`requiredScopes`, the `*` tool rule's): the 401 `scope=` must still name them, or a client that
 * asks for exactly what the challenge says (MCP 2025-11-25 scope selection: the 401's `scope` first)
 * gets a token every request refuses with 403 (it named `scopesSupported` alone). RFC 6750 §3:
 * `scope` indicates "the required scope of the access token for accessing the requested resource".
 */
import express from 'express';
import request from 'supertest';
import { mcpAuth, type Options } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);

test.each([
  ['requiredScopes', { scopesSupported: ['notes:read', 'notes:write'] }, {}],
  ['the * tool rule', { scopesSupported: ['notes:read'], toolScopes: { '*': ['mcp:tools'], list_notes: ['notes:read'] } },
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add_note', arguments: {} } }],
])("challengeScope 'all' keeps %s: a token with exactly the 401's scopes passes", async (_label, extra: Partial<Options>, body: object) => {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, requiredScopes: ['mcp'], challengeScope: 'all', ...extra }));
  const app = express();
  app.post('/mcp', guard.protect(), (_req, res) => { res.json({ reached: true }); });

  const first = await request(app).post('/mcp').send({});
  expect(first.status).toBe(401);
  const scope = /scope="([^"]*)"/.exec(String(first.headers['www-authenticate']))?.[1];
  expect(scope).toBeDefined();

  const token = await fx.token({ scope });
  const call = await request(app).post('/mcp').set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').send(body);
  expect(call.headers['www-authenticate'] ?? '').not.toContain('insufficient_scope');
  expect(call.status).toBe(200);
});
