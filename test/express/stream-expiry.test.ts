/**
 * Long-lived streams end with their token: a `GET` event stream, or a 2026-07-28
 * `subscriptions/listen` answer, delivers what the server writes while the guard would accept its
 * token, and ends at the first write at or after `exp` + `clockTolerance` (the injected clock),
 * without that write; later writes
 * are dropped (no crash), and a `stream_ended` event names the issuer and client. Not ended: a
 * POST's answer (a tool call's result is due to the token that made the call) and a `GET` that is
 * not an event stream (a download behind an app-wide guard).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import express, { type Response } from 'express';
import { mcpAuth, type GuardEvent } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';

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

/** Open a stream; resolves once its head arrived, with what it received so far and when it ended. */
function openStream(token: string, method: 'GET' | 'POST', body?: unknown, query = '', on = srv, extra: Record<string, string> = {}): Promise<{ res: IncomingMessage; text: () => string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${on.url}/mcp${query}`, { method, headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream', 'Content-Type': 'application/json', ...extra } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      const ended = new Promise<void>((r) => res.on('end', () => r()));
      resolve({ res, text: () => text, ended });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Write an event on the server side and wait until the client has it (or the stream ended). */
async function push(s: { res: IncomingMessage; text: () => string }, data: string): Promise<void> {
  const before = s.text().length;
  const arrived = new Promise<void>((r) => {
    const check = (): void => { if (s.text().length > before) { s.res.off('data', check); r(); } };
    s.res.on('data', check);
    s.res.on('end', () => r());
  });
  open!.write(`data: ${data}\n\n`);
  await arrived;
}

const tokenFor = (seconds: number) => fx.token({ sub: 'alice', client_id: 'client-a', iat: clock.seconds(), exp: clock.seconds() + seconds });

test.each([
  ['a GET stream', 'GET' as const, undefined],
  ['a subscriptions/listen answer', 'POST' as const, { jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true } } }],
])('%s delivers while its token is accepted, then ends at the first write after exp + clockTolerance, without it', async (_label, method, body) => {
  const s = await openStream(await tokenFor(60), method, body);
  expect(s.res.statusCode).toBe(200);
  await push(s, 'first');
  expect(s.text()).toContain('data: first');
  events.length = 0;
  // Past exp but within clockTolerance (5 s): the guard still accepts the token, the stream goes on.
  clock.advance(63_000);
  await push(s, 'in-leeway');
  expect(s.text()).toContain('data: in-leeway');
  clock.advance(2_000);
  await push(s, 'after-expiry');
  await s.ended;
  expect(s.text()).not.toContain('after-expiry');
  expect(events).toEqual([{ type: 'stream_ended', reason: 'token_expired', issuer: fx.as.issuer, clientId: 'client-a' }]);
  // The server keeps writing: dropped, no error (and no 'drain' to wait for).
  expect(open!.write('data: later\n\n')).toBe(true);
});

test('a POST answer streamed past exp (a tool call\'s result) is not cut', async () => {
  const s = await openStream(await tokenFor(60), 'POST', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'long', arguments: {} } });
  clock.advance(66_000);
  await push(s, 'result');
  expect(s.text()).toContain('data: result');
  open!.end();
  await s.ended;
});

test('a GET that is not an event stream is not cut', async () => {
  const s = await openStream(await tokenFor(60), 'GET', undefined, '?type=bytes');
  clock.advance(66_000);
  await push(s, 'bytes');
  expect(s.text()).toContain('bytes');
  open!.end();
  await s.ended;
});

test('a subscriptions/listen whose body no one parsed (no tool policy, no parser before protect()) is known by its Mcp-Method header, and ends too', async () => {
  const listen = { jsonrpc: '2.0', id: 3, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true } } };
  const s = await openStream(await tokenFor(60), 'POST', listen, '', unparsed, { 'Mcp-Method': 'subscriptions/listen' });
  await push(s, 'first');
  clock.advance(66_000);
  await push(s, 'after-expiry');
  await s.ended;
  expect(s.text()).toContain('data: first');
  expect(s.text()).not.toContain('after-expiry');
});
