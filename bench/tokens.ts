/**
 * Benchmark keys and tokens: generated with `node:crypto` (signing is the load generator's cost,
 * so it is done once, before any measurement). Every token is distinct (its own `jti`).
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export type BenchAlg = 'RS256' | 'ES256';

/** A signing key and its public JWK. */
export interface BenchKey {
  alg: BenchAlg;
  kid: string;
  privateKey: KeyObject;
  publicJwk: Record<string, unknown>;
}

/** Generate an RS256 (2048-bit) or ES256 (P-256) key. */
export function makeBenchKey(alg: BenchAlg): BenchKey {
  const { privateKey, publicKey } = alg === 'RS256'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `bench-${alg.toLowerCase()}`;
  return { alg, kid, privateKey, publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } };
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Claims every benchmark token carries. */
export interface TokenClaims {
  issuer: string;
  audience: string;
  scope: string;
  lifetimeSeconds: number;
}

/** Mint `count` distinct access tokens signed by `key`. */
export function mintTokens(key: BenchKey, claims: TokenClaims, count: number): string[] {
  const header = b64({ alg: key.alg, kid: key.kid, typ: 'at+jwt' });
  const now = Math.floor(Date.now() / 1000);
  const out: string[] = new Array(count);
  const signKey = key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' as const } : key.privateKey;
  for (let i = 0; i < count; i++) {
    const payload = b64({
      iss: claims.issuer,
      aud: claims.audience,
      sub: `user-${i % 97}`,
      client_id: 'bench-client',
      scope: claims.scope,
      iat: now,
      exp: now + claims.lifetimeSeconds,
      jti: `t${i}`,
    });
    const input = `${header}.${payload}`;
    out[i] = `${input}.${sign('sha256', Buffer.from(input), signKey).toString('base64url')}`;
  }
  return out;
}
