/**
 * Long-lived streams end with their token: a `GET` event stream, or a 2026-07-28
 * `subscriptions/listen` answer, delivers what the server writes while the guard would accept its
 * token, and ends at the first write at or after `exp` + `clockTolerance` (the injected clock),
 * without that write; later writes
 * are dropped (no crash), and a `stream_ended` event names the issuer and client, capped as
 * `allow` names them. Not the guard's to end: a stream the application ended itself. Not ended: a
 * POST's answer (a tool call's result is due to the token that made the call) and a `GET` that is
 * not an event stream (a download behind an app-wide guard).
 */
import express, { type Response } from 'express';
import { mcpAuth, type GuardEvent } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';
import { openStream, push, type Opened } from '../helpers/sse-client.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const clock = fakeClock();
const events: GuardEvent[] = [];
/** The server side of the stream the handler opened last. */
let open: Response | undefined;
let srv: Listening;
/** The same guard and handler, no body parser (no tool policy: protect() reads no body). */
let unparsed: Listening;

beforeAll(async () => {
  const auth = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, clock, onEvent: (e) => { events.push(e); } }));
  const app = express();
  const handler: express.RequestHandler = (req, res) => {
    if (req.query.done !== undefined) {
      // A stream the application ends itself at once.
      res.setHeader('Content-Type', 'text/event-stream');
      res.on('error', () => {});
      res.end('data: done\n\n');
      open = res;
      return;
    }
    const type = req.query.type === 'bytes' ? 'application/octet-stream' : 'text/event-stream';
    res.writeHead(200, { 'Content-Type': type });
    res.flushHeaders();
    open = res;
  };
  app.use(express.json());
  app.all('/mcp', auth.protect(), handler);
  srv = await listen(app);
  const bare = express();
  bare.all('/mcp', auth.protect(), handler);
  unparsed = await listen(bare);
});
afterAll(async () => { await srv.close(); await unparsed.close(); });

const stream = (token: string, method: 'GET' | 'POST', body?: unknown, query = '', on = srv, extra: Record<string, string> = {}) =>
  openStream(`${on.url}/mcp${query}`, token, method, body, extra);
const write = (s: Opened, data: string) => push(s, open!, data);

const tokenFor = (seconds: number) => fx.token({ sub: 'alice', client_id: 'client-a', iat: clock.seconds(), exp: clock.seconds() + seconds });

test.each([
  ['a GET stream', 'GET' as const, undefined],
  ['a subscriptions/listen answer', 'POST' as const, { jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true } } }],
])('%s delivers while its token is accepted, then ends at the first write after exp + clockTolerance, without it', async (_label, method, body) => {
  const s = await stream(await tokenFor(60), method, body);
  expect(s.res.statusCode).toBe(200);
  await write(s, 'first');
  expect(s.text()).toContain('data: first');
  events.length = 0;
  // Past exp but within clockTolerance (5 s): the guard still accepts the token, the stream goes on.
  clock.advance(63_000);
  await write(s, 'in-leeway');
  expect(s.text()).toContain('data: in-leeway');
  clock.advance(2_000);
  await write(s, 'after-expiry');
  await s.ended;
  expect(s.text()).not.toContain('after-expiry');
  expect(events).toEqual([{ type: 'stream_ended', reason: 'token_expired', issuer: fx.as.issuer, clientId: 'client-a' }]);
  // The server keeps writing: dropped, no error (and no 'drain' to wait for).
  expect(open!.write('data: later\n\n')).toBe(true);
});

test.each([
  ['a POST answer streamed past exp (a tool call\'s result)', 'POST', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'long', arguments: {} } }, '', 'result', 'data: result'],
  ['a GET that is not an event stream', 'GET', undefined, '?type=bytes', 'bytes', 'bytes'],
] as const)('%s is not cut', async (_label, method, body, query, data, expected) => {
  const s = await stream(await tokenFor(60), method, body, query);
  clock.advance(66_000);
  await write(s, data);
  expect(s.text()).toContain(expected);
  open!.end();
  await s.ended;
});

test('a subscriptions/listen whose body no one parsed (no tool policy, no parser before protect()) is known by its Mcp-Method header, and ends too', async () => {
  const listen = { jsonrpc: '2.0', id: 3, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true } } };
  const s = await stream(await tokenFor(60), 'POST', listen, '', unparsed, { 'Mcp-Method': 'subscriptions/listen' });
  await write(s, 'first');
  clock.advance(66_000);
  await write(s, 'after-expiry');
  await s.ended;
  expect(s.text()).toContain('data: first');
  expect(s.text()).not.toContain('after-expiry');
});

test('stream_ended names the client as allow does (the same cap)', async () => {
  events.length = 0;
  const s = await stream(await fx.token({ sub: 'alice', client_id: 'c'.repeat(1000), iat: clock.seconds(), exp: clock.seconds() + 60 }), 'GET');
  clock.advance(66_000);
  await write(s, 'x');
  await s.ended;
  const allow = events.find((e) => e.type === 'allow') as Extract<GuardEvent, { type: 'allow' }>;
  const ended = events.find((e) => e.type === 'stream_ended') as Extract<GuardEvent, { type: 'stream_ended' }>;
  expect(allow.clientId!.length).toBe(256);
  expect(ended).toEqual({ type: 'stream_ended', reason: 'token_expired', issuer: allow.issuer, clientId: allow.clientId });
});

test('a stream the application ended itself is not the guard\'s: a stray write after exp emits no stream_ended', async () => {
  events.length = 0;
  const s = await stream(await tokenFor(60), 'GET', undefined, '?done');
  await s.ended;
  expect(s.text()).toBe('data: done\n\n');
  clock.advance(66_000);
  open!.write('data: stray keep-alive\n\n', () => {});
  await new Promise((r) => setImmediate(r));
  expect(events.filter((e) => e.type === 'stream_ended')).toEqual([]);
});
