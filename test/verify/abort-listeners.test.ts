/**
 * No `MaxListenersExceededWarning` under ordinary load: every introspection call links its signal
 * to the guard's long-lived one (`linkedSignal`), one listener per call in progress, removed when
 * the call ends. Eleven distinct tokens arriving together made Node print "Possible EventTarget
 * memory leak detected": a false alarm an operator would chase. 50 concurrent introspection calls
 * print nothing.
 */
import * as nodeModule from 'node:module';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { opaqueOptions, opaqueToken } from '../helpers/opaque.js';

let as: LoopbackAS;
let g: McpAuthGuard | undefined;

beforeAll(async () => {
  as = await startLoopbackAS();
});
afterAll(async () => {
  await g?.close();
  await as.close();
});

test('50 concurrent introspection calls: no "possible EventTarget memory leak" warning', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => { warnings.push(`${w.name}: ${w.message}`); };
  // Node emits through the real process object; jest's `process` (and its createRequire) is a copy
  // whose listeners never fire: Node's own loader hands out the real one.
  const loader = (nodeModule as unknown as { Module: { _load(request: string, parent: null, isMain: boolean): unknown } }).Module;
  const realProcess = loader._load('process', null, false) as NodeJS.Process;
  expect(realProcess).not.toBe(process);
  realProcess.on('warning', onWarning);
  let inFlight = 0;
  let peak = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => { open = resolve; });
  as.introspect = async () => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    if (inFlight >= 50) open();
    await gate; // hold every answer until all 50 calls are under way together
    inFlight--;
    return { body: { active: false } };
  };
  try {
    g = mcpAuth(opaqueOptions(as));
    const reasons = await Promise.all(Array.from({ length: 50 }, () => g!.verify(opaqueToken()).then(() => 'ok', (e: { reason?: string }) => e.reason)));
    expect(reasons.every((r) => r === 'token_inactive')).toBe(true);
    expect(peak).toBe(50);
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
  } finally {
    realProcess.off('warning', onWarning);
  }
});
