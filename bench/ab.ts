/**
 * `tsx bench/ab.ts [--rounds=N] [--seconds=S] [--old=DIR] [--old2=DIR] [--paired] <variant> ...`: a few variants
 * against bare Express, interleaved as in `npm run bench` (rotated order, each slot after 1 s of
 * unrecorded load), for hot-path work. Diagnostics, not the report. `--seconds`: whole seconds.
 *
 * `--paired`: each variant is loaded at the same time as bare, both servers on core 1, and the ratio
 * is of the two figures of that one slot: the machine's drift (which moves a lone slot by ±25 %
 * here) hits both alike. Valid for servers that do all their work on the main thread (the
 * scheduler shares the core per thread): not for `jose`'s WebCrypto verifications.
 *
 * Variants: `noop` (one pass-through middleware), `ref` (a minimal token cache: Map lookup,
 * `req.auth`, `next()`), `same` / `same-es` (guard, one RS256 / ES256
 * token), `opaque` (guard, cached introspection), `listener` (guard + `onEvent`), `guard:<JSON>`
 * (guard with more options, one RS256 token). `old:<variant>` runs the variant from the checkout at
 * `--old` (e.g. a `git worktree` of an earlier commit: a before/after in one run), `old2:<variant>`
 * from the checkout at `--old2` (a third build in the same run). A suffix `#n`
 * starts another process of the same variant (the spread between identical processes).
 * Prints, per variant, the median (min–max) over rounds of its ratio to bare in the same round,
 * for req/s and for the server's CPU µs per request.
 *
 * `--in-situ`: also times each variant's auth middleware where it runs, under the load (wall µs from
 * entering it to its `next()`, median over slots; `timeAuth` in `server.ts`). Isolated loops
 * (`bench/micro.ts`) price a step with warm caches and monomorphic property access; under Express
 * every request object has a map of its own (README, "Benchmarks"), so the same step costs several
 * times more here. The timer itself costs the variant throughput: compare ratios without it.
 */
import { randomBytes } from 'node:crypto';
import { startBenchAS } from './as.js';
import { fire, firePair, median, pinSelfToCore0, startServer, stopAll, type Child, type Load, type ServerStats } from './harness.js';
import type { ServerConfig } from './server.js';
import { makeBenchKey, mintTokens } from './tokens.js';

const flags = new Map(process.argv.slice(2).filter((a) => a.startsWith('--')).map((a) => { const i = a.indexOf('='); return (i === -1 ? [a.slice(2), ''] : [a.slice(2, i), a.slice(i + 1)]) as [string, string]; }));
const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const rounds = Number(flags.get('rounds') ?? 10);
const seconds = Number(flags.get('seconds') ?? 2);
const oldRoot = flags.get('old');
/** `--paired`: each variant loaded at the same time as bare (see the header). */
const paired = flags.has('paired');
/** `--in-situ`: time the auth middleware of every variant under the load (see the header). */
const inSitu = flags.has('in-situ');
const SETTLE_S = 1;

interface Variant { name: string; config: ServerConfig; load: Load; checkout: string | undefined; child?: Child; rps: number[]; cpu: number[]; authUs: number[] }

async function main(): Promise<void> {
  pinSelfToCore0();
  const rs = makeBenchKey('RS256');
  const es = makeBenchKey('ES256');
  const opaque = randomBytes(32).toString('base64url');
  const as = await startBenchAS({ keys: [rs.publicJwk, es.publicJwk], opaqueTokens: new Set([opaque]) });
  const rsToken = mintTokens(rs, as.claims, 1)[0]!;
  const esToken = mintTokens(es, as.claims, 1)[0]!;
  const base = { ...as.serverBase, alg: 'RS256' as const };
  const spec = (name: string): { config: ServerConfig; load: Load } => {
    const kind = name.replace(/^old2?:/, '').replace(/#\d+$/, '');
    if (kind === 'bare') return { config: { ...base, variant: 'bare' }, load: { kind: 'same', token: rsToken } };
    if (kind === 'noop') return { config: { ...base, variant: 'noop' }, load: { kind: 'same', token: rsToken } };
    if (kind === 'same') return { config: { ...base, variant: 'guard' }, load: { kind: 'same', token: rsToken } };
    if (kind === 'same-es') return { config: { ...base, variant: 'guard', alg: 'ES256' }, load: { kind: 'same', token: esToken } };
    if (kind === 'opaque') return { config: { ...base, variant: 'guard', opaque: true }, load: { kind: 'same', token: opaque } };
    if (kind === 'listener') return { config: { ...base, variant: 'guard', listener: true }, load: { kind: 'same', token: rsToken } };
    if (kind === 'ref') return { config: { ...base, variant: 'ref' }, load: { kind: 'same', token: rsToken } };
    if (kind.startsWith('guard:')) return { config: { ...base, variant: 'guard', guardOptions: JSON.parse(kind.slice(6)) as Record<string, unknown> }, load: { kind: 'same', token: rsToken } };
    throw new Error(`unknown variant ${name}`);
  };
  const variants: Variant[] = ['bare', ...names].map((name) => {
    if (name.startsWith('old:') && !oldRoot) throw new Error(`${name} needs --old=DIR`);
    const { config, load } = spec(name);
    return { name, config: { ...config, timeAuth: inSitu }, load, checkout: name.startsWith('old:') ? oldRoot : name.startsWith('old2:') ? flags.get('old2') : undefined, rps: [], cpu: [], authUs: [] };
  });
  const stats = (v: Variant): Promise<ServerStats> => v.child!.stats();
  /** Record the µs per call of the variant's auth middleware between two stats (with `--in-situ`). */
  const recordAuth = (v: Variant, a: ServerStats, b: ServerStats): void => {
    if (b.authCalls > a.authCalls) v.authUs.push((b.authNs - a.authNs) / (b.authCalls - a.authCalls) / 1000);
  };
  try {
    for (const v of variants) v.child = await startServer(v.config, v.name, { checkout: v.checkout });
    for (const v of variants) {
      const r = await fire(v.child!.port, v.load, 2);
      if (r.non2xx > 0) throw new Error(`${v.name}: ${r.non2xx} non-2xx`);
    }
    for (let r = 0; r < rounds; r++) {
      const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
      if (paired) {
        const b = variants[0]!;
        for (const v of order) {
          if (v === b) continue;
          await firePair({ port: b.child!.port, load: b.load }, { port: v.child!.port, load: v.load }, SETTLE_S);
          const [s0b, s0v] = [await stats(b), await stats(v)];
          const [rb, rv] = await firePair({ port: b.child!.port, load: b.load }, { port: v.child!.port, load: v.load }, seconds);
          const [s1b, s1v] = [await stats(b), await stats(v)];
          v.rps.push(rv.requests.average / rb.requests.average);
          v.cpu.push(((s1v.cpuMicros - s0v.cpuMicros) / rv.requests.total) / ((s1b.cpuMicros - s0b.cpuMicros) / rb.requests.total));
          recordAuth(v, s0v, s1v);
        }
        b.rps.push(1); b.cpu.push(1);
        process.stderr.write(`round ${r + 1}/${rounds}\n`);
        continue;
      }
      const got = new Map<Variant, { rps: number; cpu: number }>();
      for (const v of order) {
        await fire(v.child!.port, v.load, SETTLE_S);
        const s0 = await stats(v);
        const res = await fire(v.child!.port, v.load, seconds);
        const s1 = await stats(v);
        got.set(v, { rps: res.requests.average, cpu: (s1.cpuMicros - s0.cpuMicros) / res.requests.total });
        recordAuth(v, s0, s1);
      }
      const b = got.get(variants[0]!)!;
      for (const v of variants) { const g = got.get(v)!; v.rps.push(g.rps / b.rps); v.cpu.push(g.cpu / b.cpu); }
      process.stderr.write(`round ${r + 1}/${rounds}: bare ${Math.round(b.rps)} req/s, ${b.cpu.toFixed(0)} CPU µs/req\n`);
    }
    for (const v of variants) {
      const auth = v.authUs.length > 0 ? `  auth middleware ${median(v.authUs).toFixed(2)} µs (${Math.min(...v.authUs).toFixed(2)}–${Math.max(...v.authUs).toFixed(2)})` : '';
      process.stdout.write(`${v.name.padEnd(24)} req/s ×${median(v.rps).toFixed(3)} (${Math.min(...v.rps).toFixed(2)}–${Math.max(...v.rps).toFixed(2)})  CPU/req ×${median(v.cpu).toFixed(3)}${auth}\n`);
    }
  } finally {
    await stopAll();
    await as.close();
  }
}

void main();
