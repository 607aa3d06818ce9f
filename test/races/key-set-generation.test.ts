/**
 * The key set's generation (jwks.ts `generation`, `#refetched(…, since)`) counts the sets loaded:
 * two sets loaded at the same clock reading (jwksCooldownSeconds: 0, an injected clock that does not
 * move, two loads within one millisecond) are still two, so a rotated-in key is picked up by the
 * refetch it triggered, with or without a kid.
 */
import { mcpAuth } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { makeKey } from '../helpers/keys.js';
import { tokenBuilder } from '../helpers/tokens.js';
import { startParkingJwks } from '../helpers/parking-jwks.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const ISSUER = 'https://as.example.com';

test.each([
  ['unknown kid', 'new' as string | undefined],
  ['no kid', undefined],
])('jwksCooldownSeconds 0, clock not moved: a rotated-in key (%s) is picked up by the refetch it triggered', async (_name, kid) => {
  const jwks = await startParkingJwks();
  const [oldKey, newKey] = await Promise.all([makeKey('RS256', 'old'), makeKey('RS256', 'new')]);
  jwks.keys = [oldKey.publicJwk];
  const clock = fakeClock(1_800_000_000_000);
  const guard = mcpAuth({ resource: RESOURCE, issuer: ISSUER, jwksUri: jwks.uri, clock, jwksCooldownSeconds: 0 });
  try {
    await guard.ready();
    const sign = tokenBuilder({ issuer: ISSUER, audience: RESOURCE, nowSeconds: clock.seconds });
    const token = await sign(newKey, {}, { kid });
    jwks.keys = [oldKey.publicJwk, newKey.publicJwk]; // rotation at the authorization server
    const result = await guard.verify(token).then(() => 'accepted', (e: { reason?: string }) => String(e.reason));
    expect(jwks.count).toBe(2); // the refetch was made and brought the key
    expect(result).toBe('accepted');
  } finally {
    await guard.close();
    await jwks.close();
  }
});
