/** Test keys, generated once per suite (per module instance). */
import { exportJWK, generateKeyPair, type JWK, type CryptoKey } from 'jose';

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** Generate a signing key with its public JWK (kid set, alg set). */
export async function makeKey(alg: 'RS256' | 'ES256' | 'PS256' | 'EdDSA' | 'ES384' = 'RS256', kid = `${alg.toLowerCase()}-${Math.random().toString(36).slice(2, 10)}`): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}
