/**
 * With a tool policy and no body parser, protect() reads the body itself after the token is
 * verified. A client that disconnects while its token is being verified (introspection under way)
 * gets its request decided all the same: one deny event (400 invalid_body), as the same disconnect
 * during the body read gives (README, events: "one per request decided by protect()"); the handler
 * never runs. Two cases: the body partly sent, and the whole (small) body sent, then Node destroys
 * the request and drops what it buffered (`complete` is true, nothing was read). Detected by event
 * counts after the introspection answer was released, not by a timer.
 */
import express from 'express';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { mcpAuth, type GuardEvent } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { startLoopbackAS, type IntrospectionAnswer } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken } from '../helpers/opaque.js';
import { turns } from '../helpers/parking-jwks.js';

const FULL = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}';

test.each([
  ['part of the body sent', '{"jsonrpc":', 100, false],
  ['the whole body sent', FULL, Buffer.byteLength(FULL), true],
] as const)('a client gone during verification, %s: the request is still decided (one deny), the handler never runs', async (_label, sent, length, complete) => {
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
  let seen: IncomingMessage | undefined;
  const app = express();
  app.use((req, _res, next) => { seen = req; req.on('close', () => reqClosed()); next(); });
  let handled = 0;
  app.post('/mcp', guard.protect(), (_req, res) => { handled++; res.end(); });
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const token = opaqueToken();
    const sock = connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n${sent}`);
    await introspectionArrived; // the token is being verified
    sock.destroy(); // the client goes away
    await closed;
    expect(seen!.complete).toBe(complete);
    release({ body: activeAnswer(as, clock.seconds(), { scope: 'mcp' }) });
    // The verification finished (the guard's own verify of the token is answered), then turns.
    expect(await guard.verify(token).then(() => 'accepted', () => 'refused')).toBe('accepted');
    await turns(200);
    expect(handled).toBe(0);
    expect(events.filter((e) => e.type === 'allow' || e.type === 'deny').map((e) => e.type)).toEqual(['deny']);
  } finally {
    await guard.close();
    await new Promise<void>((r) => server.close(() => r()));
    await as.close();
  }
});
