/**
 * The flood of `introspection-heap.test.ts`, in a process of its own (node --expose-gc --import
 * tsx): a guard without caches introspects `warm` then `calls` distinct refused opaque tokens
 * against a loopback authorization server. Prints `{"growth": <heap bytes>}`, or
 * `{"unexpected": <result>}` for an answer other than 401.
 */
import { mcpAuth } from '../../lib/index.js';
import { startLoopbackAS } from '../helpers/loopback-as.js';
import { opaqueOptions, opaqueToken } from '../helpers/opaque.js';

const [warm, calls] = process.argv.slice(2).map(Number) as [number, number];
const gc = (globalThis as { gc?: () => void }).gc!;
const as = await startLoopbackAS();
as.introspect = () => ({ body: { active: false } });
// No caches: every token is one introspection call, and nothing is meant to be kept.
const g = mcpAuth(opaqueOptions(as, { negativeCacheSeconds: 0, cacheMaxAgeSeconds: 0 }));

async function flood(n: number): Promise<string | undefined> {
  const BATCH = 100;
  for (let i = 0; i < n; i += BATCH) {
    const results = await Promise.all(Array.from({ length: BATCH }, () => g.verify(opaqueToken()).then(() => 'ok', (e: { code?: string }) => e.code)));
    const odd = results.find((r) => r !== 'UNAUTHORIZED');
    if (odd !== undefined) return String(odd);
    as.resetCounts(); // the loopback AS keeps a log of requests: drop it, it is not the guard's
  }
  return undefined;
}

async function heap(): Promise<number> {
  as.resetCounts();
  for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); }
  gc();
  return process.memoryUsage().heapUsed;
}

let out: Record<string, unknown>;
const odd = await flood(warm); // warm-up (sockets, JIT, lazily built structures)
if (odd !== undefined) {
  out = { unexpected: odd };
} else {
  const before = await heap();
  const late = await flood(calls);
  out = late !== undefined ? { unexpected: late } : { growth: (await heap()) - before };
}
await g.close();
await as.close();
process.stdout.write(JSON.stringify(out));
