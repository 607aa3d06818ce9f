/**
 * A client that sent its whole (small) body and then disconnects while its token is being verified:
 * Node destroys the request and drops the buffered body (`complete` is true, nothing was read), so
 * the body read is refused at once: the request is decided (one deny event, 400 invalid_body), the
 * handler never runs.
 */
import express from 'express';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { mcpAuth, type GuardEvent } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { startLoopbackAS, type IntrospectionAnswer } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken } from '../helpers/opaque.js';
import { turns } from '../helpers/parking-jwks.js';

test('a client gone after sending its whole body, during verification: the request is still decided (one deny)', async () => {
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
    const body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}';
    const sock = connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await introspectionArrived; // the token is being verified; the whole body has been sent
    sock.destroy(); // the client goes away
    await closed;
    expect(seen!.complete).toBe(true); // the body was received in full
    release({ body: activeAnswer(as, clock.seconds(), { scope: 'mcp' }) });
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
