/**
 * `stream_ended` names the issuer and client exactly as the `allow` event of the same request does
 * (capped at 256 characters): one client is one `clientId` in the logs, however long its id.
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
let open: Response | undefined;
let srv: Listening;

beforeAll(async () => {
  const auth = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, clock, onEvent: (e) => { events.push(e); } }));
  const app = express();
  app.get('/mcp', auth.protect(), (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.flushHeaders();
    open = res;
  });
  srv = await listen(app);
});
afterAll(() => srv.close());

function openGet(token: string): Promise<{ res: IncomingMessage; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${srv.url}/mcp`, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' } }, (res) => {
      res.resume();
      resolve({ res, ended: new Promise<void>((r) => res.on('end', () => r())) });
    });
    req.on('error', reject);
    req.end();
  });
}

test('stream_ended names the client as allow does (same cap)', async () => {
  const longClient = 'c'.repeat(1000);
  const s = await openGet(await fx.token({ sub: 'alice', client_id: longClient, iat: clock.seconds(), exp: clock.seconds() + 60 }));
  expect(s.res.statusCode).toBe(200);
  clock.advance(66_000);
  open!.write('data: x\n\n');
  await s.ended;
  const allow = events.find((e) => e.type === 'allow') as Extract<GuardEvent, { type: 'allow' }>;
  const ended = events.find((e) => e.type === 'stream_ended') as Extract<GuardEvent, { type: 'stream_ended' }>;
  expect(allow.clientId!.length).toBeLessThanOrEqual(256);
  expect(ended).toBeDefined();
  expect(ended.clientId).toBe(allow.clientId);
  expect(ended.issuer).toBe(allow.issuer);
});
