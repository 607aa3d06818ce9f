/**
 * What every bench script shares: app servers in child processes (`server.ts`, started on any core,
 * then pinned with every thread to core 1 where `taskset` exists), their `stats` over IPC, and the
 * load (`autocannon`, 16 connections, one `POST /mcp` with a bearer token). Used by `run.ts` (the
 * report), `ab.ts` and `profile.ts` (diagnostics).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon, { type Options as CannonOptions, type Result } from 'autocannon';
import type { ServerConfig } from './server.js';

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..');
export const CONNECTIONS = 16;
export const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
export const hasTaskset = process.platform === 'linux' && existsSync('/usr/bin/taskset') && availableParallelism() >= 2;
/** Every child still running (killed by {@link stopAll}). */
export const children = new Set<ChildProcess>();

/** Median of a list (NaN when empty). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Pin this process (the load generator) to core 0. */
export function pinSelfToCore0(): void {
  if (hasTaskset) execFileSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
}

/** `node [extra] --import tsx bench/<script>`, pinned to core 1 where possible. */
export function nodeCommand(script: string, extra: string[] = []): [string, string[]] {
  const nodeArgs = [...extra, '--import', 'tsx', join(here, script)];
  return hasTaskset ? ['taskset', ['-c', '1', process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
}

/** Pin a started server (every thread) to core 1: servers start on both cores (faster), run on one. */
function pinToCore1(pid: number | undefined): void {
  if (hasTaskset && pid !== undefined) execFileSync('taskset', ['-a', '-cp', '1', String(pid)], { stdio: 'ignore' });
}

export interface ServerStats {
  rss: number;
  heapUsed: number;
  cpuMicros: number;
  cpuSystemMicros: number;
  /** With `timeAuth`: nanoseconds spent in the auth middleware so far, and its calls. */
  authNs: number;
  authCalls: number;
}

export interface Child {
  proc: ChildProcess;
  port: number;
  /** RSS, heap and CPU time of the server (after a GC when `gc`). */
  stats(gc?: boolean): Promise<ServerStats>;
}

/**
 * Start one app server and wait for it to listen. `nodeFlags` go to its `node` (`--cpu-prof`, …);
 * `checkout` runs `bench/server.ts` of another checkout (a before/after in one run).
 */
export function startServer(config: ServerConfig, name: string, opts: { nodeFlags?: string[]; checkout?: string } = {}): Promise<Child> {
  const checkout = opts.checkout ?? root;
  const proc = spawn(process.execPath, ['--expose-gc', ...(opts.nodeFlags ?? []), '--import', 'tsx', join(checkout, 'bench', 'server.ts')], { cwd: checkout, env: { ...process.env, BENCH_SERVER_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no ready message within 30 s`)), 30_000);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name}: exited with ${code}`)); });
    proc.on('message', function onReady(m: { type: string; port?: number; message?: string }) {
      if (m.type === 'error') { clearTimeout(timer); reject(new Error(`${name}: ${m.message}`)); }
      if (m.type !== 'ready') return;
      clearTimeout(timer);
      proc.off('message', onReady);
      pinToCore1(proc.pid);
      resolve({
        proc,
        port: m.port!,
        stats: (gc = false) => new Promise((res, rej) => {
          const t = setTimeout(() => rej(new Error(`${name}: no stats`)), 10_000);
          proc.on('message', function onStats(s: { type: string } & ServerStats) {
            if (s.type !== 'stats') return;
            clearTimeout(t);
            proc.off('message', onStats);
            res(s);
          });
          proc.send({ type: 'stats', gc });
        }),
      });
    });
  });
}

export function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { proc.kill('SIGKILL'); resolve(); }, 5_000);
    proc.once('exit', () => { clearTimeout(t); resolve(); });
    proc.kill('SIGTERM');
  });
}

/** Stop every child still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((p) => stopChild(p)));
}

// ---------------------------------------------------------------- load

/** A DPoP client of the load: its bound token, and a fresh proof per call. */
export interface DpopClient { token: string; proof: () => string }

export type Load = { kind: 'same'; token: string } | { kind: 'cycle'; tokens: readonly string[] } | { kind: 'dpop'; clients: readonly DpopClient[] };

/** A bearer request's headers. */
function bearerHeaders(token: string): Record<string, string> {
  return { 'content-type': 'application/json', authorization: `Bearer ${token}` };
}

/** A DPoP request's headers: the bound token under the `DPoP` scheme, and a fresh proof. */
function dpopHeaders(client: DpopClient): Record<string, string> {
  return { 'content-type': 'application/json', authorization: `DPoP ${client.token}`, dpop: client.proof() };
}

function cannonOptions(port: number, load: Load): CannonOptions {
  const base = { url: `http://127.0.0.1:${port}/mcp`, connections: CONNECTIONS, pipelining: 1, timeout: 10, method: 'POST', body: BODY };
  if (load.kind === 'same') {
    return { ...base, headers: bearerHeaders(load.token) };
  }
  const items: readonly (string | DpopClient)[] = load.kind === 'cycle' ? load.tokens : load.clients;
  let next = 0;
  return {
    ...base,
    requests: [{
      method: 'POST',
      path: '/mcp',
      body: BODY,
      setupRequest: (req) => {
        const item = items[next]!;
        next = next + 1 === items.length ? 0 : next + 1;
        return { ...req, headers: typeof item === 'string' ? bearerHeaders(item) : dpopHeaders(item) };
      },
    }],
  };
}

/**
 * Load a server for `seconds`: a whole number of seconds, at least 1 (autocannon counts its
 * duration in 1-second ticks, so 0.5 would silently run for 1).
 */
export function fire(port: number, load: Load, seconds: number): Promise<Result> {
  if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError(`fire(): ${seconds} s is not a whole number of seconds ≥ 1`);
  return autocannon({ ...cannonOptions(port, load), duration: seconds });
}

/**
 * Load two servers at the same time for `seconds` (a paired slot: both on core 1, so whatever the
 * machine does during the slot hits both alike; the ratio of their req/s is the ratio of their costs
 * per request for servers that do all their work on the main thread).
 */
export function firePair(a: { port: number; load: Load }, b: { port: number; load: Load }, seconds: number): Promise<[Result, Result]> {
  return Promise.all([fire(a.port, a.load, seconds), fire(b.port, b.load, seconds)]);
}

/** Send exactly `amount` requests. */
export function fireCount(port: number, load: Load, amount: number): Promise<Result> {
  return autocannon({ ...cannonOptions(port, load), amount });
}

/** One request: its status. */
export async function probe(port: number, load: Load): Promise<number> {
  const headers = load.kind === 'dpop' ? dpopHeaders(load.clients[0]!) : bearerHeaders(load.kind === 'same' ? load.token : load.tokens[0]!);
  const res = await fetch(`http://127.0.0.1:${port}/mcp`, {
    method: 'POST',
    headers,
    body: BODY,
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return res.status;
}

