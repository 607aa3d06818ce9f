/**
 * Resource bounds: every introspection call goes through Discovery's custom fetch. It used to
 * combine the call's signal with the guard-lifetime `closing` signal by `AbortSignal.any([…, closing])`;
 * on Node 20 a long-lived source signal keeps a record of every signal made from it, so the heap
 * grew by ≈ 50–85 bytes per call for the guard's whole life, and each distinct junk opaque token an
 * anonymous client sends costs one call. The per-call signal is now linked to `closing` by a
 * listener removed when the call ends (`linkedSignal` in lib/verify/http.ts).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { opaqueOptions, opaqueToken } from '../helpers/opaque.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let as: LoopbackAS;
let g: McpAuthGuard;

beforeAll(async () => {
  as = await startLoopbackAS();
  as.introspect = () => ({ body: { active: false } });
});
afterAll(async () => {
  await g?.close();
  await as.close();
});

async function flood(n: number): Promise<void> {
  const BATCH = 100;
  for (let i = 0; i < n; i += BATCH) {
    const results = await Promise.all(Array.from({ length: BATCH }, () => g.verify(opaqueToken()).then(() => 'ok', (e: { code?: string }) => e.code)));
    for (const r of results) if (r !== 'UNAUTHORIZED') throw new Error(`unexpected result ${String(r)}`);
    as.resetCounts(); // the loopback AS keeps a log of requests: drop it, it is not the guard's
  }
}

async function heap(): Promise<number> {
  as.resetCounts();
  for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); }
  gc();
  return process.memoryUsage().heapUsed;
}

test('heap does not grow with the number of distinct (refused) opaque tokens introspected', async () => {
  // No caches: every token is one introspection call, and nothing is meant to be kept.
  g = mcpAuth(opaqueOptions(as, { negativeCacheSeconds: 0, cacheMaxAgeSeconds: 0 }));
  await flood(5_000); // warm-up (sockets, JIT, lazily built structures)
  const before = await heap();
  await flood(40_000);
  const after = await heap();
  const growth = after - before;
  // ≈ 2 MB was retained before the fix (≈ 50 B per call); a bounded guard stays well under 1 MB.
  expect(growth).toBeLessThan(1_000_000);
}, 300_000); // ≈ 25–35 s here; a cold, loaded machine took over 120 s once
