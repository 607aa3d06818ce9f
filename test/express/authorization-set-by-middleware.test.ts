/**
 * An `Authorization` value an earlier middleware put on `req.headers`: a string is the header; a
 * list counts as that many lines (one: that credential; several: 400 `multiple_tokens`; none: no
 * credentials). Whatever a middleware set, a request that itself carried two `Authorization` lines
 * is refused (400 `multiple_tokens`) and the handler never runs.
 */
import express from 'express';
import { mcpAuth } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, rawRequest } from '../helpers/http.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const fx = loopbackJwtSuite(RESOURCE);

async function answer(set: (token: string) => string | string[], rawLines: (token: string) => string[]): Promise<{ status: number; ran: number }> {
  const token = await fx.token({ scope: 'a' });
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer }));
  const app = express();
  let ran = 0;
  app.use((req, _res, next) => {
    (req.headers as Record<string, unknown>).authorization = set(token);
    next();
  });
  app.get('/mcp', guard.protect(), (_req, res) => { ran++; res.send('ok'); });
  const srv = await listen(app);
  try {
    return { status: (await rawRequest(`${srv.url}/mcp`, 'GET', rawLines(token))).status, ran };
  } finally {
    await srv.close();
  }
}

const two = (t: string) => ['Authorization', `Bearer ${t}`, 'authorization', 'Bearer other'];

test('two raw Authorization lines are refused whatever a middleware set', async () => {
  for (const set of [(t: string) => [`Bearer ${t}`], () => [], (t: string) => `Bearer ${t}`]) {
    expect(await answer(set, two)).toEqual({ status: 400, ran: 0 });
  }
});

test('a list a middleware set counts as lines: one is the credential, two are refused, none is no credential', async () => {
  expect(await answer((t) => [`Bearer ${t}`], () => [])).toEqual({ status: 200, ran: 1 });
  expect(await answer((t) => [`Bearer ${t}`, `Bearer ${t}`], () => [])).toEqual({ status: 400, ran: 0 });
  expect(await answer(() => [], () => [])).toEqual({ status: 401, ran: 0 });
});
