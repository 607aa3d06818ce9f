/**
 * Profile one variant alone: `tsx bench/profile.ts <bare|guard|auth0|sdk> <RS256|ES256> [same|distinct] [--no-prof] [guard options as JSON]`.
 * Starts the loopback authorization server and one app server (pinned to core 1, `--cpu-prof`
 * into `bench/results/prof/<variant>-<alg>-<load>/`), warms it up, loads it for 6 s with
 * `autocannon`, and prints req/s and the server's CPU µs per request. Diagnostics only.
 * `BENCH_NODE_FLAGS` adds flags to the server's `node` (e.g. `--trace-deopt`).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon, { type Options } from 'autocannon';
import { startBenchAS } from './as.js';
import type { ServerConfig } from './server.js';
import { makeBenchKey, mintTokens, type BenchAlg } from './tokens.js';

const here = dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const variant = (process.argv[2] ?? 'guard') as ServerConfig['variant'];
  const alg = (process.argv[3] ?? 'RS256') as BenchAlg;
  const load = process.argv[4] === 'same' ? 'same' : 'distinct';
  const dir = join(here, 'results', 'prof', `${variant}-${alg}-${load}`);
  const key = makeBenchKey(alg);
  const audience = 'https://mcp.bench.example/mcp';
  const as = await startBenchAS({ keys: [key.publicJwk], audience, scope: 'mcp', opaqueTokens: new Set(), lifetimeSeconds: 3600 });
  const tokens = mintTokens(key, { issuer: as.issuer, audience, scope: 'mcp', lifetimeSeconds: 3600 }, load === 'same' ? 1 : 10_000);
  const config: ServerConfig = { variant, alg, issuer: as.issuer, jwksUri: as.jwksUri, introspectionUrl: '', audience, scope: 'mcp', ...(load === 'distinct' ? { cacheMaxEntries: 1000 } : {}), guardOptions: JSON.parse(process.argv.find((a) => a.startsWith('{')) ?? '{}') as Record<string, unknown> };
  const prof = !process.argv.includes('--no-prof');
  const nodeArgs = [...(prof ? ['--cpu-prof', '--cpu-prof-dir', dir] : []), ...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : []), '--import', 'tsx', join(here, 'server.ts')];
  const pin = existsSync('/usr/bin/taskset');
  const proc = spawn(pin ? 'taskset' : process.execPath, pin ? ['-c', '1', process.execPath, ...nodeArgs] : nodeArgs, {
    env: { ...process.env, BENCH_SERVER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve) => proc.on('message', (m: { type: string; port?: number }) => { if (m.type === 'ready') resolve(m.port!); }));
  const cpu = (): Promise<{ cpuMicros: number; cpuSystemMicros: number }> => new Promise((resolve) => {
    proc.once('message', (m: { cpuMicros: number; cpuSystemMicros: number }) => resolve(m));
    proc.send({ type: 'stats' });
  });
  let next = 0;
  const opts: Options = {
    url: `http://127.0.0.1:${port}/mcp`, connections: 16, duration: 6, method: 'POST',
    requests: [{
      method: 'POST', path: '/mcp', body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
      setupRequest: (req) => ({ ...req, headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[next++ % tokens.length]!}` } }),
    }],
  };
  await autocannon({ ...opts, duration: 2 });
  const c0 = await cpu();
  const res = await autocannon(opts);
  const c1 = await cpu();
  process.stdout.write(`${variant} ${alg} ${load}: ${Math.round(res.requests.average)} req/s, ${Math.round((c1.cpuMicros - c0.cpuMicros) / res.requests.total)} CPU µs/req (${Math.round((c1.cpuSystemMicros - c0.cpuSystemMicros) / res.requests.total)} system), ${res.non2xx} non-2xx${prof ? `; profile in ${dir}` : ''}\n`);
  proc.kill('SIGTERM');
  await new Promise((resolve) => proc.once('exit', resolve));
  await as.close();
}

void main();
