/**
 * While a background re-read of stale metadata is under way (a hanging metadata endpoint: up to
 * httpTimeoutSeconds, 60 s at most), Discovery.get() (one per uncached token in `auto` mode,
 * `#publishesKeys`, and per uncached opaque token, `introspection()`) starts nothing more: one
 * metadata request, and no promise per call held until the re-read ends (junk JWS-shaped tokens
 * from anyone would otherwise grow the heap with the request rate × the timeout).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { resolveOptions } from '../../lib/options.js';
import { Discovery } from '../../lib/verify/discovery.js';
import { fakeClock } from '../helpers/clock.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let as: LoopbackAS;
beforeAll(async () => { as = await startLoopbackAS(); });
afterAll(() => as.close());

test('get() calls during a hanging re-read: one metadata request, and no heap growth per call', async () => {
  as.faults = { discovery: 'ok', jwks: 'ok', introspection: 'ok' };
  as.metadata = {};
  const clock = fakeClock(1_800_000_000_000);
  const d = new Discovery(resolveOptions({ resource: 'http://127.0.0.1:9/mcp', issuer: as.issuer, clock, httpTimeoutSeconds: 60 }));
  try {
    await d.get();
    d.moved('jwks'); // e.g. one JWKS answer of HTTP 500
    clock.advance(31_000);
    as.faults.discovery = 'hang';
    as.resetCounts();
    void d.get(); // starts the re-read
    while (as.counts.discovery === 0) await new Promise((r) => setImmediate(r));
    gc();
    const before = process.memoryUsage().heapUsed;
    const N = 200_000;
    for (let i = 0; i < N; i++) void d.get();
    await new Promise((r) => setImmediate(r));
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(as.counts.discovery).toBe(1);
    expect(grown / N).toBeLessThan(20); // bytes per call (measured ≈ 190)
  } finally {
    d.close();
  }
});
