/**
 * A JWT verification under way when `guard.close()` runs finishes after the close. It used to write
 * its result into the just-cleared verification cache, so the closed guard accepted that one token
 * while it answered every other token 503. close() "drops cached keys and tokens": the cache now
 * stores nothing once closed, so nothing verified before or during close() is served after it.
 */
import request from 'supertest';
import { McpAuthError } from '../../lib/index.js';
import { buildApp } from '../helpers/app.js';
import { fakeClock } from '../helpers/clock.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };
const fx = loopbackJwtSuite(RESOURCE);


test('a verification racing close() does not leave its token accepted by the closed guard', async () => {
  const clock = fakeClock(1_800_000_000_000);
  const t = buildApp({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, clock });
  fx.track(t);
  const sign = tokenBuilder({ issuer: fx.as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  await t.guard.ready();
  const token = await sign(fx.key);
  const other = await sign(fx.key, { jti: 'other' });

  // Verification starts (keys already loaded), then the guard is closed in the same turn.
  const inFlight = t.guard.verify(token).then(() => 'ok', (e: unknown) => e);
  await t.guard.close();
  await inFlight; // whatever it settles to, it was started before close()

  // After close(): every token is refused with 503 (no keys, no fetch) ...
  const otherErr = await t.guard.verify(other).catch((e: unknown) => e);
  expect(otherErr).toBeInstanceOf(McpAuthError);
  expect(otherErr).toMatchObject({ code: 'AUTH_UNAVAILABLE' });
  // ... and so must the token whose verification raced close(): close() dropped cached tokens.
  const raced = await t.guard.verify(token).then(() => 'accepted', (e: unknown) => e);
  expect(raced).toMatchObject({ code: 'AUTH_UNAVAILABLE' });

  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
  expect(res.status).toBe(503);
  expect(t.calls()).toBe(0);
  expect(fx.as.counts.jwks).toBe(1);
});
