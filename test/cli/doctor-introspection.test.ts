/**
 * `doctor` reaches introspection the way the guard does: a discovered non-https endpoint off
 * loopback is refused (the client secret and the probe token are never sent there, and the check
 * fails, as the guard answers 500), a server publishing no endpoint at all is told apart from it,
 * and a configured MCP_AUTH_INTROSPECTION_URL needs no metadata.
 *
 * `http://0.0.0.0:<port>` is not a loopback host for the guard (options.ts LOOPBACK), yet reaches
 * the test server bound to 127.0.0.1: it stands in for any remote plain-http host.
 */
import { runDoctor } from '../../lib/cli/doctor.js';
import { mcpAuth } from '../../lib/index.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { opaqueToken, RESOURCE, RS_CLIENT } from '../helpers/opaque.js';

let as: LoopbackAS;
beforeAll(async () => {
  as = await startLoopbackAS();
  as.metadata = { introspection_endpoint: `http://0.0.0.0:${new URL(as.url).port}/introspect` };
});
beforeEach(() => as.resetCounts());
afterAll(() => as.close());

test('control: the guard refuses the discovered http endpoint (500) and sends nothing to it', async () => {
  const guard = mcpAuth({ resource: RESOURCE, issuer: as.issuer, tokenFormat: 'opaque', introspection: { ...RS_CLIENT } });
  try {
    await expect(guard.verify(opaqueToken())).rejects.toMatchObject({ status: 500 });
    expect(as.counts.introspection).toBe(0);
  } finally {
    await guard.close();
  }
});

/** doctor's environment: opaque tokens, introspection discovered from the metadata. */
const opaqueEnv = (): Record<string, string> => ({
  MCP_AUTH_RESOURCE: RESOURCE,
  MCP_AUTH_ISSUER: as.issuer,
  MCP_AUTH_TOKEN_FORMAT: 'opaque',
  MCP_AUTH_CLIENT_ID: RS_CLIENT.clientId,
  MCP_AUTH_CLIENT_SECRET: RS_CLIENT.clientSecret,
  MCP_AUTH_HTTP_TIMEOUT_SECONDS: '3',
});

test('doctor does not send the client secret to a discovered non-https introspection endpoint', async () => {
  const report = await runDoctor(opaqueEnv());
  expect(report.checks.find((c) => c.id === 'introspection')?.message).toMatch(/not https/);
  const secretSent = as.wire.some((w) => w.startsWith('POST /introspect') && (w.includes(RS_CLIENT.clientSecret) || /\nauthorization\nBasic /i.test(w)));
  expect(secretSent).toBe(false);
  expect(as.counts.introspection).toBe(0);
  expect(report.checks.find((c) => c.id === 'introspection')?.status).toBe('fail');
});

test('doctor: with MCP_AUTH_INTROSPECTION_URL set, introspection does not depend on the metadata', async () => {
  as.faults.discovery = '404';
  try {
    const env = {
      MCP_AUTH_RESOURCE: RESOURCE,
      MCP_AUTH_ISSUER: as.issuer,
      MCP_AUTH_INTROSPECTION_URL: as.introspectionUrl,
      MCP_AUTH_CLIENT_ID: RS_CLIENT.clientId,
      MCP_AUTH_CLIENT_SECRET: RS_CLIENT.clientSecret,
      MCP_AUTH_HTTP_TIMEOUT_SECONDS: '3',
    };
    // Control: the guard itself introspects an opaque token without any metadata.
    const guard = mcpAuth({ resource: RESOURCE, issuer: as.issuer, introspection: { url: as.introspectionUrl, ...RS_CLIENT } });
    try {
      await expect(guard.verify(opaqueToken())).rejects.toMatchObject({ status: 401, reason: 'token_inactive' });
    } finally {
      await guard.close();
    }
    const report = await runDoctor(env);
    const line = report.checks.find((c) => c.id === 'introspection');
    // Today: "fail: no introspection endpoint: the authorization server metadata is unavailable ... or set MCP_AUTH_INTROSPECTION_URL" (it is set).
    expect(line?.status).toBe('pass');
  } finally {
    as.faults.discovery = 'ok';
  }
});

test('doctor: metadata without introspection_endpoint is reported as such, with the fix MCP_AUTH_INTROSPECTION_URL', async () => {
  const saved = as.metadata;
  as.metadata = { introspection_endpoint: undefined };
  try {
    const check = (await runDoctor(opaqueEnv())).checks.find((c) => c.id === 'introspection');
    expect(check?.status).toBe('fail');
    expect(check?.message).not.toMatch(/not https/);
    expect(check?.message).toMatch(/no introspection_endpoint/);
    expect(check?.fix).toMatch(/MCP_AUTH_INTROSPECTION_URL/);
  } finally {
    as.metadata = saved;
  }
});
