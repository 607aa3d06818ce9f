/**
 * After `guard.close()` ("aborts fetches under way, stops fetching, drops cached keys and tokens";
 * every new verification answers 503), a verification that starts after close() never joins the
 * still-pending verification of the same token begun before it (`cache.coalesce()` runs afresh
 * once closed), so the closed guard does not accept it.
 */
import { mcpAuth } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);

test('verify() called after close() does not accept a token, even one whose verification is still in flight', async () => {
  const clock = fakeClock(1_800_000_000_000);
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, clock }));
  const sign = tokenBuilder({ issuer: fx.as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  await guard.ready();
  const token = await sign(fx.key);

  const before = guard.verify(token).then(() => 'accepted', (e: { code?: string }) => e.code); // started before close()
  await guard.close();
  const after = guard.verify(token).then(() => 'accepted', (e: { code?: string }) => e.code); // started after close()
  await before;
  expect(await after).toBe('AUTH_UNAVAILABLE'); // actual: 'accepted'
});
