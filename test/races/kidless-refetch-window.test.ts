/**
 * A token without kid signed by a key rotated in: its first signature check (against the old key
 * of the type) waits for the turn's batch (setImmediate). If a refetch started by another token
 * (unknown kid) lands during that wait, the set that landed is tried (the token's verification
 * remembers which set it was checked against), with no second fetch: 200, whatever the turn.
 */
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { tokenBuilder } from '../helpers/tokens.js';
import { startParkingJwks, turns, type ParkingJwks } from '../helpers/parking-jwks.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const ISSUER = 'https://as.example.com';
let jwks: ParkingJwks;
let oldKey: TestKey;
let newKey: TestKey;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => { unhandled.push(e); };

beforeAll(async () => {
  jwks = await startParkingJwks();
  [oldKey, newKey] = await Promise.all([makeKey('RS256', 'old'), makeKey('RS256', 'new')]);
  process.on('unhandledRejection', onUnhandled);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await jwks.close();
});

async function attempt(delay: number): Promise<string> {
  jwks.park = false;
  jwks.keys = [oldKey.publicJwk];
  const clock = fakeClock(1_800_000_000_000);
  const guard: McpAuthGuard = mcpAuth({ resource: RESOURCE, issuer: ISSUER, jwksUri: jwks.uri, clock });
  try {
    await guard.ready();
    const sign = tokenBuilder({ issuer: ISSUER, audience: RESOURCE, nowSeconds: clock.seconds });
    const kidless = await sign(newKey, {}, { kid: undefined });
    const unknownKid = await sign(oldKey, {}, { kid: 'zzz' });
    clock.advance(31_000); // the cooldown is over
    jwks.keys = [oldKey.publicJwk, newKey.publicJwk]; // rotation at the authorization server
    jwks.park = true;
    const a = guard.verify(unknownKid).then(() => 'accepted', (e: { reason?: string }) => String(e.reason));
    await jwks.whenParked(1); // the refetch for the unknown kid is under way
    const b = await new Promise<Promise<string>>((resolve) => {
      setImmediate(() => {
        jwks.parked[0]!.release(); // the new set is on its way
        void turns(delay).then(() => resolve(guard.verify(kidless).then(() => 'accepted', (e: { reason?: string }) => String(e.reason))));
      });
    });
    expect(await a).toBe('key_not_found');
    return await b;
  } finally {
    await guard.close();
  }
}

test('a kid-less token of the rotated-in key is accepted whenever it arrives around the refetch', async () => {
  const results: string[] = [];
  for (let d = 0; d <= 3; d++) results.push(`delay ${d}: ${await attempt(d)}`);
  expect(results).toEqual(['delay 0: accepted', 'delay 1: accepted', 'delay 2: accepted', 'delay 3: accepted']);
  expect(unhandled).toEqual([]);
});
