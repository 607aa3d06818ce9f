/**
 * Several issuers: `ready()` rejects when one cannot be reached, and the rejection names that issuer.
 */
import { mcpAuth } from '../../lib/index.js';
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

test('ready() names the issuer that could not be reached', async () => {
  const guard = mcpAuth({ resource: RESOURCE, issuer: [a.issuer, b.issuer], httpTimeoutSeconds: 2 });
  b.faults.discovery = '500';
  let err: unknown;
  try {
    await guard.ready();
  } catch (e) {
    err = e;
  } finally {
    await guard.close();
  }
  expect(err).toMatchObject({ status: 503 });
  const e = err as Error & { description?: string };
  expect(`${e.message} ${e.description ?? ''}`).toContain(b.issuer);
});
