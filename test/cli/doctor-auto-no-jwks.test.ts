/**
 * With introspection configured (tokenFormat `auto`, the default then) and an authorization server
 * that publishes no `jwks_uri`, the guard introspects every token (README, `tokenFormat`): `doctor`
 * agrees and skips the JWKS check instead of failing the configuration.
 */
import { mcpAuth } from '../../lib/index.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { checksOf, runCli } from './run-cli.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const CLIENT = { id: 'rs-client', secret: 'rs-secret-0123456789' };
let as: LoopbackAS;

beforeAll(async () => {
  as = await startLoopbackAS();
  as.metadata = { jwks_uri: undefined }; // dropped by JSON.stringify: no jwks_uri published
  as.introspect = (r) => (r.token === 'good-opaque-token'
    ? { body: { active: true, aud: RESOURCE, iss: as.issuer, scope: 'mcp', exp: Math.floor(Date.now() / 1000) + 600 } }
    : { body: { active: false } });
});
afterAll(() => as.close());

test('auto without a published JWKS: the guard accepts opaque tokens, the doctor skips the JWKS check instead of failing', async () => {
  const guard = mcpAuth({ resource: RESOURCE, issuer: as.issuer, introspection: { clientId: CLIENT.id, clientSecret: CLIENT.secret } });
  await expect(guard.verify('good-opaque-token')).resolves.toMatchObject({ scopes: ['mcp'] });
  await guard.close();

  const r = await runCli(['doctor', '--json'], {
    MCP_AUTH_RESOURCE: RESOURCE, MCP_AUTH_ISSUER: as.issuer, MCP_AUTH_HTTP_TIMEOUT_SECONDS: '3',
    MCP_AUTH_CLIENT_ID: CLIENT.id, MCP_AUTH_CLIENT_SECRET: CLIENT.secret,
  });
  const checks = checksOf(r.stdout);
  expect(checks.introspection?.status).toBe('pass');
  expect(checks.jwks?.status).toBe('skip');
  expect(r.code).toBe(0);
});
