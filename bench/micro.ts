/**
 * Micro-benchmark of the guard's verification steps in one process (diagnostics, not part of the
 * report): `tsx bench/micro.ts [RS256|ES256]`. Sequential, bounded loops; CPU time per operation.
 */
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT } from 'jose';
import { mcpAuth } from '../lib/index.js';
import { resolveOptions } from '../lib/options.js';
import { DpopProofChecker } from '../lib/verify/dpop.js';
import { Verifier } from '../lib/verify/index.js';
import { jwtVerifier } from '../lib/verify/jwt.js';
import { startBenchAS } from './as.js';
import { BODY } from './harness.js';
import { minimalCacheMiddleware } from './minimal-cache.js';
import { makeBenchKey, mintTokens, type BenchAlg } from './tokens.js';

async function time(label: string, n: number, fn: (i: number) => unknown): Promise<void> {
  for (let i = 0; i < Math.min(n, 300); i++) await fn(i);
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn(i);
  const c1 = process.cpuUsage(c0);
  const us = (c1.user + c1.system) / n; // CPU time of all threads: robust to other load on the machine
  process.stdout.write(`${label.padEnd(52)} ${us.toFixed(1).padStart(8)} CPU µs/op  ${Math.round(1e6 / us).toLocaleString('en-US').padStart(9)} ops/s\n`);
}

/** Like {@link time}, with `width` operations in flight at once (as under HTTP load). */
async function timeConcurrent(label: string, n: number, width: number, fn: (i: number) => unknown): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => { while (next < n) await fn(next++); };
  const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: width }, worker));
  const c1 = process.cpuUsage(c0);
  const us = (c1.user + c1.system) / n;
  process.stdout.write(`${label.padEnd(52)} ${us.toFixed(1).padStart(8)} CPU µs/op  ${Math.round(1e6 / us).toLocaleString('en-US').padStart(9)} ops/s\n`);
}

async function main(): Promise<void> {
  const alg = (process.argv[2] ?? 'RS256') as BenchAlg;
  const key = makeBenchKey(alg);
  const as = await startBenchAS({ keys: [key.publicJwk], opaqueTokens: new Set() });
  const { audience } = as.claims;
  const tokens = mintTokens(key, as.claims, 4000);
  const n = tokens.length;
  const pub = await importJWK(key.publicJwk, alg);
  await time(`jose.jwtVerify, local key (${alg})`, n, (i) => jwtVerify(tokens[i]!, pub, { issuer: as.issuer, audience, algorithms: [alg] }));
  const config = resolveOptions({ resource: audience, issuer: as.issuer, jwksUri: as.jwksUri, cacheMaxEntries: 1000 });
  const v = new Verifier(config, undefined);
  await v.ready();
  const native = jwtVerifier(config, v.keys!, { native: true });
  const viaJose = jwtVerifier(config, v.keys!, { native: false });
  await time('guard jwtVerifier, jose path', n, (i) => viaJose(tokens[i]!));
  await time('guard jwtVerifier, native path', n, (i) => native(tokens[i]!));
  await time('guard Verifier.verify, distinct (cache 1000)', n, (i) => v.verify(tokens[i]!));
  await timeConcurrent(`jose.jwtVerify, 16 in flight`, n, 16, (i) => jwtVerify(tokens[i]!, pub, { issuer: as.issuer, audience, algorithms: [alg] }));
  await timeConcurrent('guard jwtVerifier, native path, 16 in flight', n, 16, (i) => native(tokens[i]!));
  await time('guard Verifier.verify, same token (hit)', 200_000, () => v.verify(tokens[0]!));
  // Request-shaped objects, each with its own header string (as each request brings one).
  const request = (): unknown => {
    const authorization = `Bearer ${tokens[0]!}`;
    return { method: 'POST', url: '/mcp', originalUrl: '/mcp', baseUrl: '', path: '/mcp', headers: { host: '127.0.0.1', 'content-type': 'application/json', authorization }, rawHeaders: ['Host', '127.0.0.1', 'Content-Type', 'application/json', 'Authorization', authorization], body: JSON.parse(BODY) as unknown };
  };
  const requests = Array.from({ length: 1000 }, request) as { headers: { authorization: string } }[];
  const tokenOf = (i: number): string => requests[i % 1000]!.headers.authorization.slice(7);
  // The cache key on a hit, from a fresh token string each time: V8 hashes the whole string for a
  // Map lookup, so keying by the token string saves nothing.
  const byString = new Map([[tokens[0]!, 1]]);
  const byDigest = new Map([[v.cache.key(tokens[0]!), 1]]);
  await time(`hit key: Map lookup by the token string (${tokens[0]!.length} chars)`, 500_000, (i) => byString.get(tokenOf(i)));
  await time('hit key: SHA-256, Map lookup by the digest', 500_000, (i) => byDigest.get(v.cache.key(tokenOf(i))));
  v.close();
  // The whole middleware on a cache hit, beside the benchmark's reference cache on the same requests.
  const guard = mcpAuth({ resource: audience, issuer: as.issuer, jwksUri: as.jwksUri, requiredScopes: ['mcp'] });
  let passed = 0;
  const next = (): void => { passed++; };
  for (const [label, mw] of [
    ['guard protect(), same token (hit)', guard.protect()],
    ['reference minimal cache, same token (hit)', minimalCacheMiddleware((token) => jwtVerify(token, pub, { issuer: as.issuer, audience, algorithms: [alg] }))],
  ] as const) {
    await new Promise<void>((resolve) => mw(requests[0] as never, {} as never, () => resolve()));
    passed = 0;
    await time(label, 500_000, (i) => mw(requests[i % 1000] as never, {} as never, next));
    if (passed === 0) throw new Error(`${label}: next() never called`);
  }
  await guard.close();
  // A DPoP proof check (`dpop: 'allowed'`), each request a fresh proof by one client key.
  const dpopConfig = resolveOptions({ resource: audience, issuer: as.issuer, jwksUri: as.jwksUri, dpop: 'allowed' });
  const dpop = new DpopProofChecker(dpopConfig);
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = await exportJWK(publicKey);
  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  const ath = createHash('sha256').update(tokens[0]!).digest('base64url');
  const proofs = await Promise.all(Array.from({ length: 3000 }, () => new SignJWT({ htm: 'POST', htu: audience, ath, jti: randomUUID() })
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk }).setIssuedAt().sign(privateKey)));
  let k = 0; // (each proof once: the warm-up takes the first 300)
  const target = new URL(audience).pathname;
  await time(`DPoP proof check, ${alg} proof (fresh proof, same client key)`, 2700, () => dpop.check({ proofs: [proofs[k++]!], token: tokens[0]!, jkt, owner: 'bench', method: 'POST', target }));
  // A new client key on every proof: the header's checks and the key's parsing every time.
  const fresh = await Promise.all(Array.from({ length: 1500 }, async () => {
    const pair = await generateKeyPair(alg);
    const j = await exportJWK(pair.publicKey);
    const proof = await new SignJWT({ htm: 'POST', htu: audience, ath, jti: randomUUID() }).setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: j }).setIssuedAt().sign(pair.privateKey);
    return { proof, jkt: await calculateJwkThumbprint(j, 'sha256') };
  }));
  k = 0;
  await time(`DPoP proof check, ${alg} proof (a new client key each time, the header memory of 1,024 full)`, 1200, () => { const f = fresh[k++]!; dpop.check({ proofs: [f.proof], token: tokens[0]!, jkt: f.jkt, owner: 'bench', method: 'POST', target }); });
  dpop.close();
  await as.close();
}

void main();
