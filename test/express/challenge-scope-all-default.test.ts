/**
 * `challengeScope: 'all'` (the remedy for clients that cannot step up: the 401 asks for every
 * scope at once) without an explicit `scopesSupported`: the 401 names every scope of the policy,
 * in the options and the environment form alike; `scopes_supported` then lists them too (the
 * operator asks for them all up front), where by default it is only the base set.
 */
import express from 'express';
import request from 'supertest';
import { fromEnv, mcpAuth, type Options } from '../../lib/index.js';
import { parseChallenge } from '../helpers/challenge.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const TOOLS = { list_notes: ['notes:read'], add_note: ['notes:write'], delete_note: ['notes:write'] };
const call = (name: string) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } });

function appWith(options: Partial<Options>) {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, ...options } as Options));
  const app = express();
  app.post('/mcp', guard.protect(), (_req, res) => { res.json({ jsonrpc: '2.0', id: 1, result: {} }); });
  return app;
}

test.each([
  ['options', { requiredScopes: ['notes:read'], toolScopes: TOOLS, challengeScope: 'all' as const }],
  ['environment', fromEnv({ MCP_AUTH_REQUIRED_SCOPES: 'notes:read', MCP_AUTH_TOOL_SCOPES: 'list_notes=notes:read;add_note=notes:write;delete_note=notes:write', MCP_AUTH_CHALLENGE_SCOPE: 'all' })],
])("challengeScope 'all' (%s, no explicit scopesSupported) asks for every scope of the policy, so a client that cannot step up can call every tool", async (_label, options) => {
  const app = appWith(options as Partial<Options>);
  const first = await request(app).post('/mcp').send(call('add_note'));
  expect(first.status).toBe(401);
  const scope = parseChallenge(first.headers['www-authenticate']).params.scope ?? '';
  // What 'base' would say: 'all' must ask for more than that.
  expect(scope.split(' ').sort()).toEqual(['notes:read', 'notes:write']);

  // A client that takes exactly the 401's scope and cannot step up.
  const token = await fx.token({ scope });
  const write = await request(app).post('/mcp').set('Authorization', `Bearer ${token}`).send(call('add_note'));
  expect(write.status).toBe(200);
});
