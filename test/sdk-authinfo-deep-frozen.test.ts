/**
 * README (Integration): "`req.auth` is frozen (one cached object serves every request with the
 * same token)". Only the top level, `scopes` and `extra` are frozen: array and object claims in
 * `extra` (`aud` as an array, `roles`, `groups`, Keycloak's `realm_access.roles`, …) and the
 * `resource` URL are the very objects every later request with that token gets. A handler that
 * sorts, pushes into or edits one of them (no error is thrown) changes `req.auth` for every other
 * request with the token, concurrent ones included, for up to cacheMaxAgeSeconds.
 */
import request from 'supertest';
import type { AuthInfo } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { fakeClock } from './helpers/clock.js';
import { loopbackJwtSuite } from './helpers/fixture.js';
import { tokenBuilder } from './helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };
const fx = loopbackJwtSuite(RESOURCE);

test('what one handler does to req.auth never reaches the next request with the same token', async () => {
  const clock = fakeClock(1_900_000_000_000);
  const sign = tokenBuilder({ issuer: fx.as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  const seen: { roles: unknown; aud: unknown; nested: unknown; resource: string }[] = [];
  const t = fx.track(buildApp({ resource: RESOURCE, issuer: fx.as.issuer, clock }, {
    extra: (app, guard) => app.post('/tool', guard.protect(), (req, res) => {
      const auth = req.auth as AuthInfo & { extra: Record<string, any> };
      seen.push({ roles: [...auth.extra.roles], aud: [...auth.extra.aud], nested: [...auth.extra.realm_access.roles], resource: String(auth.resource) });
      // A careless handler (no error is thrown by any of these today).
      try { auth.extra.roles.push('admin'); } catch { /* frozen: fine */ }
      try { auth.extra.aud.sort().reverse(); } catch { /* frozen: fine */ }
      try { auth.extra.realm_access.roles.push('admin'); } catch { /* frozen: fine */ }
      try { auth.resource!.pathname = '/elsewhere'; } catch { /* frozen: fine */ }
      res.json({ ok: true });
    }),
  }));
  const token = await sign(fx.key, { aud: [RESOURCE, 'https://a.example'], roles: ['reader'], realm_access: { roles: ['user'] } });
  for (let i = 0; i < 2; i++) {
    expect((await request(t.app).post('/tool').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
  }
  const first = { roles: ['reader'], aud: [RESOURCE, 'https://a.example'], nested: ['user'], resource: RESOURCE };
  expect(seen[0]).toEqual(first);
  // actual: { roles: ['reader', 'admin'], aud: ['https://a.example', RESOURCE], nested: ['user', 'admin'], resource: 'http://127.0.0.1:9/elsewhere' }
  expect(seen[1]).toEqual(first);
});
