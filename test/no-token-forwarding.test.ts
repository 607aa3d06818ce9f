/**
 * Checklist 7, "never pass a client's token on": everything the guard sends to the authorization
 * server (discovery, JWKS fetches, refetches for an unknown kid, introspection) is captured on the
 * wire. A JWT goes nowhere; an opaque token goes only to the introspection endpoint, as the `token`
 * form parameter of the POST body (RFC 7662), never in a URL or a header, and the request is
 * authenticated with the resource server's own credentials, not the client's token.
 */
import request from 'supertest';
import { buildApp, type TestApp } from './helpers/app.js';
import { makeKey, type TestKey } from './helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from './helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING, RESOURCE } from './helpers/opaque.js';
import { tokenBuilder } from './helpers/tokens.js';

let as: LoopbackAS;
let key: TestKey;
const open: TestApp[] = [];
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('RS256');
  as.keys = [key.publicJwk];
});
beforeEach(() => as.resetCounts());
afterEach(async () => { for (const t of open.splice(0)) await t.guard.close(); });
afterAll(() => as.close());

/** The parts of a token worth finding anywhere: the whole of it and each non-trivial segment. */
function pieces(token: string): string[] {
  return [token, ...token.split('.').filter((p) => p.length >= 16)];
}

test('JWTs (accepted, and one with an unknown kid that makes a refetch) never leave the process', async () => {
  const t = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksCooldownSeconds: 0 });
  open.push(t);
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE });
  const good = await sign(key);
  const unknownKid = await sign(key, {}, { kid: 'rotated-away' });
  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${good}`).send(PING)).status).toBe(200);
  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${unknownKid}`).send(PING)).status).toBe(401);
  expect(as.counts.discovery).toBe(1);
  expect(as.counts.jwks).toBe(2);
  const sent = as.wire.join('\n');
  for (const piece of [...pieces(good), ...pieces(unknownKid)]) expect(sent).not.toContain(piece);
  expect(sent).not.toMatch(/\nauthorization\n/i); // no Authorization header on any of these requests
});

test('an opaque token goes only to the introspection endpoint, in the POST body, under our own credentials', async () => {
  const token = opaqueToken();
  as.introspect = () => ({ body: activeAnswer(as, now()) });
  const t = buildApp(opaqueOptions(as, {}, { discover: true }));
  open.push(t);
  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
  const withToken = as.wire.filter((w) => w.includes(token));
  expect(withToken).toHaveLength(1);
  const [head, body] = withToken[0]!.split('\n\n') as [string, string];
  expect(head.startsWith('POST /introspect\n')).toBe(true);
  expect(head).not.toContain(token);
  expect(head).toMatch(/\nauthorization\nBasic /i);
  expect(new URLSearchParams(body).get('token')).toBe(token);
  expect(as.wire.filter((w) => !w.startsWith('POST /introspect')).join('\n')).not.toContain(token);
});
