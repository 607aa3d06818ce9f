/**
 * `doctor` against metadata without an introspection_endpoint says so and points at
 * MCP_AUTH_INTROSPECTION_URL, not at "serve introspection over https:" (the answer for a
 * discovered endpoint the guard refuses). Loopback AS.
 */
import { runDoctor } from '../../lib/cli/doctor.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { RESOURCE, RS_CLIENT } from '../helpers/opaque.js';

let as: LoopbackAS;
beforeAll(async () => {
  as = await startLoopbackAS();
  as.metadata = { introspection_endpoint: undefined };
});
afterAll(() => as.close());

test('doctor: metadata without introspection_endpoint is reported as such, with the fix MCP_AUTH_INTROSPECTION_URL', async () => {
  const report = await runDoctor({
    MCP_AUTH_RESOURCE: RESOURCE,
    MCP_AUTH_ISSUER: as.issuer,
    MCP_AUTH_TOKEN_FORMAT: 'opaque',
    MCP_AUTH_CLIENT_ID: RS_CLIENT.clientId,
    MCP_AUTH_CLIENT_SECRET: RS_CLIENT.clientSecret,
    MCP_AUTH_HTTP_TIMEOUT_SECONDS: '3',
  });
  const check = report.checks.find((c) => c.id === 'introspection');
  expect(check?.status).toBe('fail');
  expect(check?.message).not.toMatch(/not https/);
  expect(check?.message).toMatch(/no introspection_endpoint/);
  expect(check?.fix).toMatch(/MCP_AUTH_INTROSPECTION_URL/);
});
