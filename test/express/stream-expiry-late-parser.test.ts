/**
 * A `subscriptions/listen` whose body is parsed after `protect()` (no tool policy, the README's v2
 * composition with `express.json()` after the guard): whether its answer is watched is decided at
 * its first write, when the parser has run, and it ends with its token.
 */
import express, { type Response } from 'express';
import { mcpAuth } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';
import { openStream, push } from '../helpers/sse-client.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const clock = fakeClock();
let open: Response | undefined;
let srv: Listening;

beforeAll(async () => {
  // No toolScopes: protect() leaves the body to the parser mounted after it (README, "With the SDK v2").
  const auth = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, clock }));
  const app = express();
  app.post('/mcp', auth.protect(), express.json({ limit: '4mb' }), (req, res) => {
    expect((req.body as { method: string }).method).toBe('subscriptions/listen');
    res.setHeader('Content-Type', 'text/event-stream');
    res.flushHeaders();
    open = res;
  });
  srv = await listen(app);
});
afterAll(() => srv.close());

test('a subscriptions/listen answer ends after exp when the body parser runs after protect()', async () => {
  const s = await openStream(`${srv.url}/mcp`, await fx.token({ iat: clock.seconds(), exp: clock.seconds() + 60 }), 'POST',
    { jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true } } });
  await push(s, open!, 'ack');
  clock.advance(66_000);
  await push(s, open!, 'notifications/tasks after exp');
  expect(s.text()).toBe('data: ack\n\n');
  if (!open!.writableEnded) open!.end();
});
