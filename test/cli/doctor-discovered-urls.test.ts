/**
 * `doctor` judges discovered endpoints by the guard's rule (https:, or http: on a loopback host):
 * a plain-http jwks_uri or introspection_endpoint off loopback fails the check (the guard answers
 * 503 / 500 for them) and is never fetched.
 */
import { mcpAuth } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { checksOf, runCli } from './run-cli.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const CLIENT = { id: 'rs-client', secret: 'rs-secret-0123456789' };
const fx = loopbackJwtSuite(RESOURCE);
let as: typeof fx.as;
/** The same server, under a host name that is not loopback by the guard's rule (0.0.0.0). */
let offLoopback: string;

beforeAll(() => {
  as = fx.as;
  offLoopback = as.url.replace('127.0.0.1', '0.0.0.0');
});
beforeEach(() => {
  as.metadata = {};
  as.resetCounts();
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { MCP_AUTH_RESOURCE: RESOURCE, MCP_AUTH_ISSUER: as.issuer, MCP_AUTH_HTTP_TIMEOUT_SECONDS: '3', ...extra };
}

test('a discovered http: jwks_uri off loopback: the guard answers 503, the doctor fails the check and never fetches it', async () => {
  as.metadata = { jwks_uri: `${offLoopback}/jwks` };
  // The guard refuses it: every JWT → 503 discovery_failed, and no JWKS request is made.
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: as.issuer }));
  const token = await fx.token();
  await expect(guard.verify(token)).rejects.toMatchObject({ status: 503, reason: 'discovery_failed' });
  await guard.close();
  expect(as.counts.jwks).toBe(0);

  const r = await runCli(['doctor', '--json'], env());
  const checks = checksOf(r.stdout);
  expect(as.counts.jwks).toBe(0);          // never fetched over plain http off loopback
  expect(checks.jwks?.status).toBe('fail'); // a failure, as the guard refuses it (not a warning)
  expect(r.code).toBe(1);                  // not "all checks passed"
});

test('a discovered http: introspection_endpoint off loopback: the guard answers 500, the doctor fails the check and never sends the secret there', async () => {
  as.metadata = { introspection_endpoint: `${offLoopback}/introspect` };
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: as.issuer, tokenFormat: 'opaque', introspection: { clientId: CLIENT.id, clientSecret: CLIENT.secret } }));
  await expect(guard.verify('opaque-token-0123456789')).rejects.toMatchObject({ status: 500, reason: 'invalid_options' });
  await guard.close();
  expect(as.counts.introspection).toBe(0);

  const r = await runCli(['doctor', '--json'], env({ MCP_AUTH_CLIENT_ID: CLIENT.id, MCP_AUTH_CLIENT_SECRET: CLIENT.secret }));
  const checks = checksOf(r.stdout);
  // client_secret_basic: the secret travels in the Authorization header of the probe.
  const sentSecret = as.wire.some((w) => w.startsWith('POST /introspect') && /\nauthorization\nBasic /i.test(w));
  expect(sentSecret).toBe(false);                    // the client secret never goes out in clear text
  expect(as.counts.introspection).toBe(0);
  expect(checks.introspection?.status).toBe('fail'); // a failure, as the guard answers 500
  expect(r.code).toBe(1);
});
