/**
 * Resource bounds: every introspection call goes through Discovery's custom fetch. It used to
 * combine the call's signal with the guard-lifetime `closing` signal by `AbortSignal.any([…, closing])`;
 * on Node 20 a long-lived source signal keeps a record of every signal made from it, so the heap
 * grew by ≈ 50–85 bytes per call for the guard's whole life, and each distinct junk opaque token an
 * anonymous client sends costs one call. The per-call signal is now linked to `closing` by a
 * listener removed when the call ends (`linkedSignal` in lib/verify/http.ts).
 *
 * The flood runs in a process of its own (`introspection-heap.child.ts`): inside the test runner,
 * whose heap late in `npm test` holds about 1 GB of earlier suites, the same 45,000 calls and full
 * collections took 271 s instead of about 25 (the test's limit is 300 s).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./introspection-heap.child.ts', import.meta.url));

test('heap does not grow with the number of distinct (refused) opaque tokens introspected', async () => {
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, '5000', '40000'], {
    cwd: ROOT,
    timeout: 240_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
  });
  const out = JSON.parse(stdout) as { growth?: number; unexpected?: string };
  expect(out).toEqual({ growth: expect.any(Number) });
  // ≈ 2 MB was retained before the fix (≈ 50 B per call); a bounded guard stays well under 1 MB.
  expect(out.growth).toBeLessThan(1_000_000);
}, 300_000); // ≈ 25 s here in a process of its own
