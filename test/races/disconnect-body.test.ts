/**
 * With a tool policy and no body parser, protect() reads the body itself after the token is
 * verified. A client that disconnects while its token is being verified (introspection under way)
 * gets its request decided all the same: a deny 400 invalid_body (README, events: "one per request
 * decided by protect()"), as the same disconnect during the body read does; the handler never
 * runs. Detected by event counts after the introspection answer was released, not by a timer.
 */
import express from 'express';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { mcpAuth, type GuardEvent } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { startLoopbackAS, type IntrospectionAnswer } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken } from '../helpers/opaque.js';
import { turns } from '../helpers/parking-jwks.js';

test('a client gone during verification still gets its request decided (deny event), not left pending', async () => {
  const as = await startLoopbackAS();
  const clock = fakeClock(1_800_000_000_000);
  const events: GuardEvent[] = [];
  const guard = mcpAuth(opaqueOptions(as, { clock, toolScopes: { '*': ['mcp'] }, onEvent: (e) => { events.push(e); } }));
  let release!: (a: IntrospectionAnswer) => void;
  let arrived!: () => void;
  const introspectionArrived = new Promise<void>((r) => { arrived = r; });
  as.introspect = () => { arrived(); return new Promise<IntrospectionAnswer>((r) => { release = r; }); };
  let reqClosed!: () => void;
  const closed = new Promise<void>((r) => { reqClosed = r; });
  const app = express();
  app.use((req, _res, next) => { req.on('close', () => reqClosed()); next(); });
  let handled = 0;
  app.post('/mcp', guard.protect(), (_req, res) => { handled++; res.end(); });
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const token = opaqueToken();
    const sock = connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"jsonrpc":`);
    await introspectionArrived; // the token is being verified
    sock.destroy(); // the client goes away
    await closed;
    release({ body: activeAnswer(as, clock.seconds(), { scope: 'mcp' }) });
    // Let the verification finish and the middleware continue (event-loop turns, then the
    // introspection round trip: wait until the guard's own verify of the token is answered).
    expect(await guard.verify(token).then(() => 'accepted', () => 'refused')).toBe('accepted'); // the verification finished
    await turns(20);
    expect(handled).toBe(0);
    expect(events.filter((e) => e.type === 'allow' || e.type === 'deny').map((e) => e.type)).toEqual(['deny']);
  } finally {
    await guard.close();
    await new Promise<void>((r) => server.close(() => r()));
    await as.close();
  }
});
