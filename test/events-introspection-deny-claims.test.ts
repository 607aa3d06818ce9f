/**
 * README (Decision events): "`issuer`, `clientId`: from verified claims only. On a `deny` they are
 * present only when the signature (or introspection) was checked before the refusal: an expired
 * token, a wrong audience or issuer, missing scopes." (lib/events.ts says the same.) For a JWT
 * refused on its claims the event names them; for an introspected token the introspection
 * answer was checked and named both, but the deny event names neither: `verifiedClaimsOf()` only
 * reads `jose`'s errors, and the introspection refusals carry no claims.
 */
import request from 'supertest';
import type { GuardEvent } from '../lib/index.js';
import { buildApp, type TestApp } from './helpers/app.js';
import { fakeClock } from './helpers/clock.js';
import { startLoopbackAS, type LoopbackAS } from './helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING } from './helpers/opaque.js';

const T0 = 1_900_000_000_000;
let as: LoopbackAS;
const open: TestApp[] = [];

beforeAll(async () => { as = await startLoopbackAS(); });
afterEach(async () => { for (const t of open.splice(0)) await t.guard.close(); });
afterAll(() => as.close());

test.each([
  ['token_expired', { exp: T0 / 1000 - 100 }],
  ['audience_mismatch', { aud: 'https://other.example/mcp' }],
])('an introspected token refused with %s: the deny event names the issuer and client the answer gave', async (reason, claims) => {
  const clock = fakeClock(T0);
  const events: GuardEvent[] = [];
  const t = buildApp(opaqueOptions(as, { clock, clockTolerance: 0, onEvent: (e) => { events.push(e); } }));
  open.push(t);
  as.introspect = () => ({ body: activeAnswer(as, T0 / 1000, { client_id: 'client-9', ...claims }) });
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING);
  expect(res.status).toBe(401);
  const deny = events.filter((e) => e.type === 'deny');
  expect(deny).toHaveLength(1);
  expect(deny[0]).toMatchObject({ reason, tokenKind: 'opaque' });
  // actual: neither field is present
  expect(deny[0]).toMatchObject({ issuer: as.issuer, clientId: 'client-9' });
});
