/**
 * An onEvent listener that calls guard.close() when it is told stale keys are being served (a
 * natural reaction: "the authorization server is gone, shut down"). Events are synchronous, so the
 * key set is closed between the event and the lookup: the closed guard answers 503 (jwks.ts:
 * "later lookups answer 503"), never a 401 that would make the client throw its token away.
 */
import { mcpAuth, type GuardEvent } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { makeKey } from '../helpers/keys.js';
import { tokenBuilder } from '../helpers/tokens.js';
import { startParkingJwks } from '../helpers/parking-jwks.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const ISSUER = 'https://as.example.com';

test('a listener closing the guard on stale_keys_served gets a 503 for the valid token, not a 401', async () => {
  const jwks = await startParkingJwks();
  const key = await makeKey('RS256', 'k1');
  jwks.keys = [key.publicJwk];
  const clock = fakeClock(1_800_000_000_000);
  let failed!: () => void;
  const refreshFailed = new Promise<void>((r) => { failed = r; });
  let closing = false;
  const guard = mcpAuth({
    resource: RESOURCE, issuer: ISSUER, jwksUri: jwks.uri, clock,
    onEvent: (e: GuardEvent) => {
      if (e.type === 'keys_refresh_failed') failed();
      if (e.type === 'stale_keys_served' && closing) void guard.close();
    },
  });
  try {
    await guard.ready();
    const sign = tokenBuilder({ issuer: ISSUER, audience: RESOURCE, nowSeconds: clock.seconds });
    clock.advance(601_000); // past jwksCacheMaxAgeSeconds: background refresh
    jwks.keys = 'broken' as never; // the refresh fails (no keys array)
    await guard.verify(await sign(key)); // served by the old keys; starts the background refresh
    await refreshFailed;
    closing = true;
    const err = await guard.verify(await sign(key)).then(() => undefined, (e: { status?: number; reason?: string; code?: string }) => ({ status: e.status, code: e.code }));
    expect(err).toEqual({ status: 503, code: 'AUTH_UNAVAILABLE' });
  } finally {
    await guard.close();
    await jwks.close();
  }
});
