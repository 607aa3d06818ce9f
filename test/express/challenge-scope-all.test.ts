/**
 * `challengeScope: 'all'` with an explicit `scopesSupported` that does not list the
 * `requiredScopes`: the 401 `scope=` must still name them, or a client that asks for exactly what
 * the challenge says (MCP 2025-11-25 scope selection: the 401's `scope` first) gets a token every
 * request refuses with 403 (it named `scopesSupported` alone). RFC 6750 §3: `scope` indicates
 * "the required scope of the access token for accessing the requested resource".
 */
import express from 'express';
import request from 'supertest';
import { ConfigError, mcpAuth } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);

test('a token with exactly the scopes of the 401 challenge is not refused for lack of scope', async () => {
  let guard;
  try {
    guard = mcpAuth({
      resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri,
      requiredScopes: ['mcp'], scopesSupported: ['notes:read', 'notes:write'], challengeScope: 'all',
    });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return;
  }
  fx.track(guard);
  const app = express();
  app.use(guard.metadata());
  app.post('/mcp', guard.protect(), (_req, res) => { res.json({ reached: true }); });

  const first = await request(app).post('/mcp').send({});
  expect(first.status).toBe(401);
  const scope = /scope="([^"]*)"/.exec(String(first.headers['www-authenticate']))?.[1];
  expect(scope).toBeDefined();

  const token = await fx.token({ scope });
  const second = await request(app).post('/mcp').set('Authorization', `Bearer ${token}`).send({});
  expect(second.headers['www-authenticate'] ?? '').not.toContain('insufficient_scope');
  expect(second.status).toBe(200);
});
