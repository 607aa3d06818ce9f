/**
 * The verification limit, on one core: `jose.jwtVerify` operations per second with a local key
 * (no JWKS, no HTTP), sequentially, on pre-minted distinct tokens. Prints one JSON line.
 */
import { importJWK, jwtVerify } from 'jose';
import { makeBenchKey, mintTokens, type BenchAlg } from './tokens.js';

async function main(): Promise<void> {
  const alg = (process.argv[2] ?? 'RS256') as BenchAlg;
  const seconds = Number(process.argv[3] ?? '2');
  const key = makeBenchKey(alg);
  const claims = { issuer: 'https://as.bench.invalid', audience: 'https://mcp.bench.invalid/mcp', scope: 'mcp', lifetimeSeconds: 3600 };
  const tokens = mintTokens(key, claims, 500);
  const publicKey = await importJWK(key.publicJwk, alg);
  const options = { issuer: claims.issuer, audience: claims.audience, algorithms: [alg] };
  // Warm-up (JIT, key caches), then a bounded timed loop.
  for (let i = 0; i < 300; i++) await jwtVerify(tokens[i % tokens.length]!, publicKey, options);
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  let ops = 0;
  while (performance.now() < deadline && ops < 5_000_000) {
    await jwtVerify(tokens[ops % tokens.length]!, publicKey, options);
    ops++;
  }
  const elapsed = (performance.now() - start) / 1000;
  process.stdout.write(`${JSON.stringify({ alg, opsPerSecond: ops / elapsed, ops })}\n`);
}

void main();
