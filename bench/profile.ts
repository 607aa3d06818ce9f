/**
 * Profile one variant alone: `tsx bench/profile.ts <bare|guard|auth0|sdk> <RS256|ES256> [same|distinct] [--no-prof] [guard options as JSON]`.
 * Starts the loopback authorization server and one app server (pinned to core 1, `--cpu-prof`
 * into `bench/results/prof/<variant>-<alg>-<load>/`), warms it up, loads it for 6 s with
 * `autocannon`, and prints req/s and the server's CPU µs per request. Diagnostics only.
 * `BENCH_NODE_FLAGS` adds flags to the server's `node` (e.g. `--trace-deopt`).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchAS } from './as.js';
import { fire, pinSelfToCore0, startServer, stopAll, type Load } from './harness.js';
import type { ServerConfig } from './server.js';
import { makeBenchKey, mintTokens, type BenchAlg } from './tokens.js';

const here = dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  pinSelfToCore0();
  const variant = (process.argv[2] ?? 'guard') as ServerConfig['variant'];
  const alg = (process.argv[3] ?? 'RS256') as BenchAlg;
  const mode = process.argv[4] === 'same' ? 'same' : 'distinct';
  const dir = join(here, 'results', 'prof', `${variant}-${alg}-${mode}`);
  const key = makeBenchKey(alg);
  const as = await startBenchAS({ keys: [key.publicJwk], opaqueTokens: new Set() });
  const tokens = mintTokens(key, as.claims, mode === 'same' ? 1 : 10_000);
  const config: ServerConfig = { variant, alg, ...as.serverBase, ...(mode === 'distinct' ? { cacheMaxEntries: 1000 } : {}), guardOptions: JSON.parse(process.argv.find((a) => a.startsWith('{')) ?? '{}') as Record<string, unknown> };
  const prof = !process.argv.includes('--no-prof');
  const nodeFlags = [...(prof ? ['--cpu-prof', '--cpu-prof-dir', dir] : []), ...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : [])];
  const load: Load = mode === 'same' ? { kind: 'same', token: tokens[0]! } : { kind: 'cycle', tokens };
  try {
    const server = await startServer(config, `${variant}-${alg}-${mode}`, { nodeFlags });
    await fire(server.port, load, 2);
    const c0 = await server.stats();
    const res = await fire(server.port, load, 6);
    const c1 = await server.stats();
    const perRequest = (a: number, b: number): number => Math.round((b - a) / res.requests.total);
    process.stdout.write(`${variant} ${alg} ${mode}: ${Math.round(res.requests.average)} req/s, ${perRequest(c0.cpuMicros, c1.cpuMicros)} CPU µs/req (${perRequest(c0.cpuSystemMicros, c1.cpuSystemMicros)} system), ${res.non2xx} non-2xx${prof ? `; profile in ${dir}` : ''}\n`);
  } finally {
    await stopAll();
    await as.close();
  }
}

void main();
