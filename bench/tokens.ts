/**
 * Benchmark keys and tokens: generated with `node:crypto` (signing is the load generator's cost,
 * so it is done once, before any measurement). Every token is distinct (its own `jti`).
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

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

/** Mint `count` distinct access tokens signed by `key` (token `i` bound by `cnf.jkt` to `boundTo(i)`, when given). */
export function mintTokens(key: BenchKey, claims: TokenClaims, count: number, boundTo?: (i: number) => string): string[] {
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
      ...(boundTo ? { cnf: { jkt: boundTo(i) } } : {}),
    });
    const input = `${header}.${payload}`;
    out[i] = `${input}.${sign('sha256', Buffer.from(input), signKey).toString('base64url')}`;
  }
  return out;
}

/** A DPoP client's key (P-256): its thumbprint (RFC 7638) and the proof header that carries it. */
export interface DpopClientKey {
  privateKey: KeyObject;
  jkt: string;
  /** The encoded proof header: `typ` `dpop+jwt`, `alg` ES256, the public `jwk`. */
  header: string;
}

/** Generate a DPoP client key. */
export function makeDpopKey(): DpopClientKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { crv, x, y } = publicKey.export({ format: 'jwk' });
  const jkt = createHash('sha256').update(JSON.stringify({ crv, kty: 'EC', x, y })).digest('base64url');
  return { privateKey, jkt, header: b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv, x, y } }) };
}

/**
 * Fresh DPoP proofs (RFC 9449 §4.2) of `key` for `POST htu` with `token`: each call signs one with
 * its own `jti` and the current `iat` (the load generator's cost, as a real client's).
 */
export function proofMaker(key: DpopClientKey, htu: string, token: string): () => string {
  const ath = createHash('sha256').update(token).digest('base64url');
  const prefix = randomBytes(6).toString('base64url');
  const signKey = { key: key.privateKey, dsaEncoding: 'ieee-p1363' as const };
  let n = 0;
  return () => {
    const input = `${key.header}.${b64({ jti: `${prefix}${n++}`, htm: 'POST', htu, iat: Math.floor(Date.now() / 1000), ath })}`;
    return `${input}.${sign('sha256', Buffer.from(input), signKey).toString('base64url')}`;
  };
}
