/**
 * When the guard ends a stream, nothing a hook mounted after `protect()` still held reaches the
 * client: here a second guard's list filter on a resumed GET (`A.protect(), B.protect()`, B with
 * `toolScopes`) holds an unfinished SSE event and flushes it into A's `end(data)` when A's recheck
 * refuses the token. A ends the response without that data: nothing of `SECRET` goes out.
 */
import express, { type RequestHandler, type Response } from 'express';
import { mcpAuth, type GuardEvent, type McpAuthGuard } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { listen, type Listening } from '../helpers/http.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken } from '../helpers/opaque.js';
import { openStream, push } from '../helpers/sse-client.js';

const clock = fakeClock();
const events: GuardEvent[] = [];
let as: LoopbackAS;
let guardA: McpAuthGuard;
let guardB: McpAuthGuard;
let srv: Listening;
const opened: Response[] = [];
/** What reached the response beneath every hook (a spy mounted before both guards). */
const sent = new WeakMap<Response, string[]>();

beforeAll(async () => {
  as = await startLoopbackAS();
  guardA = mcpAuth(opaqueOptions(as, { clock, cacheMaxAgeSeconds: 60, onEvent: (e) => { events.push(e); } }));
  // B: another guard of the same server, with a tool policy; its answer is trusted for an hour.
  guardB = mcpAuth(opaqueOptions(as, { clock, cacheMaxAgeSeconds: 3600, toolScopes: { 'notes_*': ['notes:read'], 'admin_*': ['admin'] } }));
  const spy: RequestHandler = (_req, res, next) => {
    const log: string[] = [];
    sent.set(res, log);
    const write = res.write;
    const end = res.end;
    res.write = function (this: Response, ...args: unknown[]) {
      log.push(String(args[0]));
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as Response['write'];
    res.end = function (this: Response, ...args: unknown[]) {
      if (args[0] !== undefined && typeof args[0] !== 'function') log.push(String(args[0]));
      return (end as (...a: unknown[]) => Response).apply(this, args);
    } as Response['end'];
    next();
  };
  const app = express();
  app.get('/mcp', spy, guardA.protect(), guardB.protect(), (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.flushHeaders();
    opened.push(res);
  });
  srv = await listen(app);
});
afterAll(async () => {
  await srv.close();
  await guardA.close();
  await guardB.close();
  await as.close();
});

test('a stream whose token is found revoked: nothing written after the revocation reaches the wire, through a later list filter either', async () => {
  const token = opaqueToken();
  let revoked = false;
  as.introspect = () => ({ body: revoked ? { active: false } : activeAnswer(as, clock.seconds(), { exp: clock.seconds() + 7200 }) });
  // A resumed stream (Last-Event-ID): B filters list answers on it by their shape.
  const s = await openStream(`${srv.url}/mcp`, token, 'GET', undefined, { 'Last-Event-ID': 'e1' });
  expect(s.res.statusCode).toBe(200);
  const res = opened.at(-1)!;
  await push(s, res, 'before');

  revoked = true;
  clock.advance(61_000);
  // After the revocation: an event, then the start of the next one (B holds the unfinished one).
  res.write('event: message\ndata: {"n":1}\n\nevent: message\ndata: SECRET');
  await s.ended;
  expect(events.filter((e) => e.type === 'stream_ended')).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);
  expect(s.text()).toContain('data: before');
  expect(sent.get(res)!.join('')).not.toContain('SECRET');
  expect(s.text()).not.toContain('SECRET');
});

test('control: without a revocation the same write shows B holding the unfinished event (it goes out when it is complete)', async () => {
  const token = opaqueToken();
  as.introspect = () => ({ body: activeAnswer(as, clock.seconds(), { exp: clock.seconds() + 7200 }) });
  const s = await openStream(`${srv.url}/mcp`, token, 'GET', undefined, { 'Last-Event-ID': 'e1' });
  expect(s.res.statusCode).toBe(200);
  const res = opened.at(-1)!;
  await push(s, res, 'before');
  res.write('event: message\ndata: {"n":1}\n\nevent: message\ndata: SECRET');
  await new Promise<void>((r) => { const check = () => { if (s.text().includes('{"n":1}')) r(); }; s.res.on('data', check); check(); });
  expect(s.text()).not.toContain('SECRET');
  expect(sent.get(res)!.join('')).not.toContain('SECRET');
  res.end('\n\n');
  await s.ended;
  expect(s.text()).toContain('data: SECRET');
});
