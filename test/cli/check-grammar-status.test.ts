/**
 * `check` validates a token "exactly as the middleware does": a token outside the RFC 6750
 * b64token grammar (here a JWT copied from a JSON document with its closing quote) is 400
 * INVALID_REQUEST for protect(), and `check` reports the same (it reported 401 UNAUTHORIZED, from
 * guard.verify()'s own grammar check).
 */
import request from 'supertest';
import { buildApp } from '../helpers/app.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { runCli } from './run-cli.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);

test('check reports the status and code protect() answers for an off-grammar token', async () => {
  const pasted = `${await fx.token()}",`;
  const t = fx.track(buildApp({ resource: RESOURCE, issuer: fx.as.issuer }));
  const res = await request(t.app).post('/mcp').set('authorization', `Bearer ${pasted}`).send({ jsonrpc: '2.0', id: 1, method: 'ping' });
  expect(res.status).toBe(400);

  const r = await runCli(['check', '--json'], { MCP_AUTH_RESOURCE: RESOURCE, MCP_AUTH_ISSUER: fx.as.issuer }, pasted);
  expect(r.code).toBe(1);
  const report = JSON.parse(r.stdout);
  expect(report.decision).toBe('deny');
  expect(report.status).toBe(res.status);
  expect(report.code).toBe(res.body.error.data.code);
  expect(r.stdout + r.stderr).not.toContain(pasted.slice(0, -2));
});
