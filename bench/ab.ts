/**
 * `tsx bench/ab.ts [--rounds=N] [--seconds=S] [--old=DIR] [--paired] <variant> ...`: a few variants
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
 * `--old` (e.g. a `git worktree` of an earlier commit: a before/after in one run). A suffix `#n`
 * starts another process of the same variant (the spread between identical processes).
 * Prints, per variant, the median (min–max) over rounds of its ratio to bare in the same round,
 * for req/s and for the server's CPU µs per request.
 */
import { randomBytes } from 'node:crypto';
import { startBenchAS } from './as.js';
import { fire, firePair, median, pinSelfToCore0, startServer, stopAll, type Child, type Load } from './harness.js';
import type { ServerConfig } from './server.js';
import { makeBenchKey, mintTokens } from './tokens.js';

const flags = new Map(process.argv.slice(2).filter((a) => a.startsWith('--')).map((a) => { const i = a.indexOf('='); return (i === -1 ? [a.slice(2), ''] : [a.slice(2, i), a.slice(i + 1)]) as [string, string]; }));
const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const rounds = Number(flags.get('rounds') ?? 10);
const seconds = Number(flags.get('seconds') ?? 2);
const oldRoot = flags.get('old');
/** `--paired`: each variant loaded at the same time as bare (see the header). */
const paired = flags.has('paired');
const SETTLE_S = 1;

interface Variant { name: string; config: ServerConfig; load: Load; checkout: string | undefined; child?: Child; rps: number[]; cpu: number[] }

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
    const kind = name.replace(/^old:/, '').replace(/#\d+$/, '');
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
    return { name, ...spec(name), checkout: name.startsWith('old:') ? oldRoot : undefined, rps: [], cpu: [] };
  });
  const cpu = async (v: Variant): Promise<number> => (await v.child!.stats()).cpuMicros;
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
          const [c0b, c0v] = [await cpu(b), await cpu(v)];
          const [rb, rv] = await firePair({ port: b.child!.port, load: b.load }, { port: v.child!.port, load: v.load }, seconds);
          const [c1b, c1v] = [await cpu(b), await cpu(v)];
          v.rps.push(rv.requests.average / rb.requests.average);
          v.cpu.push(((c1v - c0v) / rv.requests.total) / ((c1b - c0b) / rb.requests.total));
        }
        b.rps.push(1); b.cpu.push(1);
        process.stderr.write(`round ${r + 1}/${rounds}\n`);
        continue;
      }
      const got = new Map<Variant, { rps: number; cpu: number }>();
      for (const v of order) {
        await fire(v.child!.port, v.load, SETTLE_S);
        const c0 = await cpu(v);
        const res = await fire(v.child!.port, v.load, seconds);
        const c1 = await cpu(v);
        got.set(v, { rps: res.requests.average, cpu: (c1 - c0) / res.requests.total });
      }
      const b = got.get(variants[0]!)!;
      for (const v of variants) { const g = got.get(v)!; v.rps.push(g.rps / b.rps); v.cpu.push(g.cpu / b.cpu); }
      process.stderr.write(`round ${r + 1}/${rounds}: bare ${Math.round(b.rps)} req/s, ${b.cpu.toFixed(0)} CPU µs/req\n`);
    }
    for (const v of variants) {
      process.stdout.write(`${v.name.padEnd(24)} req/s ×${median(v.rps).toFixed(3)} (${Math.min(...v.rps).toFixed(2)}–${Math.max(...v.rps).toFixed(2)})  CPU/req ×${median(v.cpu).toFixed(3)}\n`);
    }
  } finally {
    await stopAll();
    await as.close();
  }
}

void main();
