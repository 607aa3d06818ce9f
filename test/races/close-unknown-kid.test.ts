/**
 * close() while a token with a kid the cached set lacks is being looked up: the refetch the token
 * is owed is never made (the guard is closed), so the token is not blamed: 503, as every lookup of
 * a closed key set answers (jwks.ts: an unknown kid is the token's fault only when the endpoint
 * answered after the token's arrival could have triggered a refetch).
 */
import { mcpAuth } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { makeKey } from '../helpers/keys.js';
import { tokenBuilder } from '../helpers/tokens.js';
import { startParkingJwks } from '../helpers/parking-jwks.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const ISSUER = 'https://as.example.com';

test('close() during an unknown-kid lookup: 503, not a 401 blaming the token', async () => {
  const jwks = await startParkingJwks();
  const [oldKey, newKey] = await Promise.all([makeKey('RS256', 'old'), makeKey('RS256', 'new')]);
  jwks.keys = [oldKey.publicJwk];
  const clock = fakeClock(1_800_000_000_000);
  const guard = mcpAuth({ resource: RESOURCE, issuer: ISSUER, jwksUri: jwks.uri, clock });
  try {
    await guard.ready();
    const sign = tokenBuilder({ issuer: ISSUER, audience: RESOURCE, nowSeconds: clock.seconds });
    const token = await sign(newKey); // kid "new": rotated in, not in the cached set
    clock.advance(31_000); // a refetch would be allowed
    jwks.keys = [oldKey.publicJwk, newKey.publicJwk];
    const p = guard.verify(token).then(() => ({ status: 200 }), (e: { status?: number; reason?: string }) => ({ status: e.status, reason: e.reason }));
    await guard.close();
    expect(await p).toMatchObject({ status: 503 });
    expect(jwks.count).toBe(1); // no fetch after close()
  } finally {
    await guard.close();
    await jwks.close();
  }
});
