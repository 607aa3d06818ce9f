/**
 * doctor with several issuers: the `issuer` check runs for each, and when one issuer's metadata
 * names itself differently (a trailing slash), the fix gives the whole MCP_AUTH_ISSUER list with
 * that one entry corrected (following a fix that named only that issuer would drop the others).
 */
import { runDoctor } from '../../lib/cli/doctor.js';
import { makeKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
let a: LoopbackAS;
let b: LoopbackAS;

beforeAll(async () => {
  [a, b] = await Promise.all([startLoopbackAS(), startLoopbackAS()]);
  const [ka, kb] = await Promise.all([makeKey('RS256'), makeKey('RS256')]);
  a.keys = [ka.publicJwk];
  b.keys = [kb.publicJwk];
});
afterAll(async () => {
  await a.close();
  await b.close();
});

test('the issuer fix for the second of two issuers keeps the first in MCP_AUTH_ISSUER', async () => {
  b.metadata = { issuer: `${b.issuer}/` };
  const report = await runDoctor({ MCP_AUTH_RESOURCE: RESOURCE, MCP_AUTH_ISSUER: `${a.issuer} ${b.issuer}`, MCP_AUTH_HTTP_TIMEOUT_SECONDS: '2' });
  const failed = report.checks.filter((c) => c.id === 'issuer' && c.status === 'fail');
  expect(failed).toHaveLength(1);
  expect(failed[0]!.fix).toContain(`${b.issuer}/`);
  // Setting MCP_AUTH_ISSUER as told must still trust the first issuer.
  expect(failed[0]!.fix).toContain(a.issuer);
});
