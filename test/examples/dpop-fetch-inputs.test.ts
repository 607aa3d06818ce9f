/**
 * `examples/dpop-fetch.ts` with the inputs its doc comment promises beyond the SDK transport's own
 * (a URL or its string with an init): a `Request` (its URL, method and headers), an access token
 * given by a function (sync or async, asked for every request), a method in lower case (the proof's
 * `htm` is what fetch sends), a query string (left out of `htu`), and headers given as a `Headers`
 * object. Each request reaches a guard with `dpop: 'required'` over real HTTP on 127.0.0.1 and must
 * be allowed with a proof of its own; a proof for another method or URL is refused, so the
 * assertions are the guard's.
 */
import { decodeJwt } from 'jose';
import { dpopFetch } from '../../examples/dpop-fetch.js';
import { dpopSuite } from '../helpers/dpop-suite.js';

const suite = dpopSuite();
let url: string;
let token: string;
/** Method, `htm` and `htu` of every request that reached the handler. */
const handled: { method: string; htm: unknown; htu: unknown; query: unknown }[] = [];
/** The `Content-Type` and `Accept` of every request that reached the handler. */
const headersSeen: { type: unknown; accept: unknown }[] = [];

beforeAll(async () => {
  const s = await suite.serve({ dpop: 'required' }, (app, g) => {
    app.all('/mcp', g.protect(), (req, res) => {
      const { htm, htu } = decodeJwt(req.headers.dpop as string);
      handled.push({ method: req.method, htm, htu, query: req.query.page });
      headersSeen.push({ type: req.headers['content-type'], accept: req.headers.accept });
      res.json({ jsonrpc: '2.0', id: 1, result: {} });
    });
  });
  url = s.resource;
  token = await s.bound();
});
beforeEach(() => { handled.length = 0; headersSeen.length = 0; });

const keyPair = () => ({ privateKey: suite.key().privateKey, publicJwk: suite.key().publicJwk, alg: 'ES256' });
const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });

test('a Request: its URL, method and headers are the ones proven and sent', async () => {
  const f = dpopFetch({ ...keyPair(), accessToken: token });
  const res = await f(new Request(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: BODY }));
  expect(res.status).toBe(200);
  expect(handled).toEqual([{ method: 'POST', htm: 'POST', htu: url, query: undefined }]);
  expect(headersSeen).toEqual([{ type: 'application/json', accept: 'application/json' }]);
});

test('an access token given by a function, sync or async, is asked for on every request', async () => {
  let calls = 0;
  const sync = dpopFetch({ ...keyPair(), accessToken: () => { calls++; return token; } });
  const async = dpopFetch({ ...keyPair(), accessToken: async () => { calls++; return token; } });
  for (const f of [sync, sync, async]) {
    const res = await f(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
    expect(res.status).toBe(200);
  }
  expect(calls).toBe(3);
  expect(handled).toHaveLength(3);
});

test('a method in lower case is proven as fetch sends it (upper case)', async () => {
  const f = dpopFetch({ ...keyPair(), accessToken: token });
  const res = await f(url, { method: 'post', headers: { 'content-type': 'application/json' }, body: BODY });
  expect(res.status).toBe(200);
  expect(handled).toEqual([{ method: 'POST', htm: 'POST', htu: url, query: undefined }]);
});

test('a query string is left out of htu; headers given as a Headers object are kept', async () => {
  const f = dpopFetch({ ...keyPair(), accessToken: token });
  const res = await f(new URL(`${url}?page=2`), { method: 'POST', headers: new Headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream' }), body: BODY });
  expect(res.status).toBe(200);
  expect(handled).toEqual([{ method: 'POST', htm: 'POST', htu: url, query: '2' }]);
  expect(headersSeen).toEqual([{ type: 'application/json', accept: 'application/json, text/event-stream' }]);
});

test('the guard checks what the example proves: a proof made for GET does not pass on a POST', async () => {
  // The example's fetch proves GET; the request it wraps is then sent as POST by another fetch.
  let proven: Headers | undefined;
  const f = dpopFetch({ ...keyPair(), accessToken: token, fetch: async (_input, init) => { proven = new Headers(init?.headers); return new Response(null, { status: 204 }); } });
  await f(url, { method: 'GET' });
  const res = await fetch(url, { method: 'POST', headers: { authorization: proven!.get('authorization')!, dpop: proven!.get('dpop')!, 'content-type': 'application/json' }, body: BODY });
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_dpop_proof"/);
  expect(handled).toEqual([]);
});
