/**
 * `node --allow-natives-syntax --import tsx bench/req-maps.ts`: why every step on `req` costs
 * several times its isolated price under Express (README, "Benchmarks"). Diagnostics only.
 *
 * Sends pairs of concurrent requests to the benchmark's app shape (Express 5, `express.json()`,
 * `POST /mcp`) and holds the first of each pair at a checkpoint until the second reaches it, then
 * asks V8 whether the two request objects share a hidden class (map): as Node hands them over
 * (before Express), at a route middleware, and after `req.auth` is set there. Node's requests share
 * one map. Express's `app.handle` runs `Object.setPrototypeOf(req, app.request)`; the map V8 gives
 * an object for a new prototype keeps no transitions, so every property added afterwards (Express's
 * `next`, `baseUrl`, `params`, …, a guard's `auth`) makes a new map for that one request,
 * and no property access on `req` meets a map its inline cache has seen.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { BODY } from './harness.js';

let sameMap: (a: object, b: object) => boolean;
try {
  sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as typeof sameMap;
} catch {
  process.stderr.write('run with node --allow-natives-syntax --import tsx bench/req-maps.ts\n');
  process.exit(2);
}

const PAIRS = 50;

/** The same without Node or Express: two objects of one constructor, a property added to each. */
function plainObjects(withNewPrototype: boolean): number {
  function Message(this: Record<string, unknown>): void { this.a = 1; }
  const proto = Object.create(Message.prototype) as object;
  let same = 0;
  for (let i = 0; i < PAIRS; i++) {
    const pair = [new (Message as unknown as new () => Record<string, unknown>)(), new (Message as unknown as new () => Record<string, unknown>)()] as const;
    for (const o of pair) {
      if (withNewPrototype) Object.setPrototypeOf(o, proto);
      o.next = i;
    }
    if (sameMap(pair[0], pair[1])) same++;
  }
  return same;
}

const tally = new Map<string, { same: number; pairs: number }>();
const held = new Map<string, { req: IncomingMessage; go: () => void }>();

/** Hold the first request of a pair at `point`; when the second arrives, compare and release both. */
function checkpoint(point: string, req: IncomingMessage, go: () => void): void {
  const first = held.get(point);
  if (first === undefined) {
    held.set(point, { req, go });
    return;
  }
  held.delete(point);
  const t = tally.get(point) ?? { same: 0, pairs: 0 };
  t.pairs++;
  if (sameMap(first.req, req)) t.same++;
  tally.set(point, t);
  first.go();
  go();
}

const at = (point: string): RequestHandler => (req, _res, next) => checkpoint(point, req, () => next());
const app = express();
app.use(express.json());
app.post('/mcp', at('2. route middleware (Express)'), (req, _res, next) => {
  req.auth = { token: 't', clientId: 'c', scopes: ['mcp'] };
  next();
}, at('3. after req.auth is set'), (_req, res) => {
  res.json({ jsonrpc: '2.0', id: 1, result: { tools: [] } });
});
const server = createServer((req, res) => checkpoint('1. as Node hands it over', req, () => app(req, res)));
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  const one = async (): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
  };
  void (async () => {
    try {
      for (let i = 0; i < PAIRS; i++) await Promise.all([one(), one()]);
      for (const [point, t] of [...tally].sort()) process.stdout.write(`${point.padEnd(32)} ${t.same} of ${t.pairs} pairs share a map\n`);
      process.stdout.write(`plain objects, one property added: ${plainObjects(false)} of ${PAIRS} pairs share a map; after Object.setPrototypeOf: ${plainObjects(true)} of ${PAIRS}\n`);
    } finally {
      server.close();
    }
  })();
});
