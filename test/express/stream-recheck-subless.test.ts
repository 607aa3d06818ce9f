/**
 * A stream's token asked about again ends (`token_changed`) when the answer names another client,
 * with or without `sub`: without one (RFC 7662 makes it optional; client-credentials tokens have
 * none) the identity is the token itself, so issuer, subject and client are compared as well.
 */
import express, { type Response } from 'express';
import { mcpAuth, type GuardEvent, type McpAuthGuard } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { listen, type Listening } from '../helpers/http.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken } from '../helpers/opaque.js';
import { openStream, push } from '../helpers/sse-client.js';

const MAX_AGE_S = 60;
const clock = fakeClock();
const events: GuardEvent[] = [];
let as: LoopbackAS;
let guard: McpAuthGuard;
let srv: Listening;
const opened: Response[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  guard = mcpAuth(opaqueOptions(as, { clock, cacheMaxAgeSeconds: MAX_AGE_S, onEvent: (e) => { events.push(e); } }));
  const app = express();
  app.get('/mcp', guard.protect(), (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.flushHeaders();
    opened.push(res);
  });
  srv = await listen(app);
});
afterAll(async () => {
  await srv.close();
  await guard.close();
  await as.close();
});
beforeEach(() => { events.length = 0; });

test.each([
  ['with sub (control)', 'user-1'],
  ['without sub', undefined],
])('an answer naming another client ends the stream (token_changed), %s', async (_label, sub) => {
  const token = opaqueToken();
  let clientId = 'client-1';
  as.introspect = () => ({ body: activeAnswer(as, clock.seconds(), { sub, client_id: clientId }) });
  const s = await openStream(`${srv.url}/mcp`, token, 'GET');
  expect(s.res.statusCode).toBe(200);
  const res = opened.at(-1)!;
  await push(s, res, 'before');

  // The authorization server now attributes the token to another client.
  clientId = 'client-2';
  clock.advance(MAX_AGE_S * 1000 + 1);
  await push(s, res, 'after');
  const ended = events.filter((e) => e.type === 'stream_ended');
  const delivered = s.text().includes('data: after');
  if (!res.writableEnded) res.end();
  await s.ended;

  expect({ delivered, ended }).toEqual({ delivered: false, ended: [expect.objectContaining({ reason: 'token_changed' })] });
});
