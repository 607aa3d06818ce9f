/**
 * DPoP proofs (RFC 9449 §4.2) for tests: a valid proof by default, with one knob per defect
 * (omit a claim or header member, wrong typ/htm/htu, iat offset, ath override, a private key in
 * `jwk`, a tampered signature, alg none, HS256, signed by a second key).
 */
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export type DpopAlg = 'ES256' | 'ES384' | 'ES512' | 'RS256' | 'PS256' | 'EdDSA' | 'Ed25519';

export interface DpopKey {
  alg: DpopAlg;
  privateKey: CryptoKey;
  /** Public members only (as `exportJWK` gives them: no kid, alg or use). */
  publicJwk: JWK;
  /** The private JWK (with `d` …): never belongs in a proof. */
  privateJwk: JWK;
  /** RFC 7638 SHA-256 thumbprint of the public key, base64url: the token's `cnf.jkt`. */
  thumbprint: string;
}

export async function makeDpopKey(alg: DpopAlg = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  return { alg, privateKey, publicJwk, privateJwk, thumbprint: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

/** base64url(SHA-256(token)): the `ath` claim. */
export function athOf(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

export type ProofClaim = 'jti' | 'htm' | 'htu' | 'iat' | 'ath';
export type ProofHeaderMember = 'typ' | 'jwk';

export interface ProofOptions {
  key: DpopKey;
  htm: string;
  htu: string;
  /** The access token the proof goes with (`ath`); without it no `ath` is set. */
  accessToken?: string;
  /** Proof time in seconds (default: now). */
  nowSeconds?: number;
  /** Added to `iat` (seconds, may be negative). */
  iatOffset?: number;
  jti?: string;
  typ?: string;
  athOverride?: string;
  omit?: readonly (ProofClaim | ProofHeaderMember)[];
  /** Put the private JWK (with `d`) in the `jwk` header. */
  embedPrivateKey?: boolean;
  /** A different `jwk` header value (the signature is still made with `key`, or `signWith`). */
  jwkOverride?: JWK;
  /** Extra members for the `jwk` header (e.g. kid, use): not part of the thumbprint. */
  jwkExtra?: Record<string, unknown>;
  /** Flip a character of the signature. */
  tamperSignature?: boolean;
  /** `alg: none` with an empty signature (an unsigned proof). */
  unsigned?: boolean;
  /** Sign with HMAC-SHA256 (`alg: HS256`) under this secret, the `jwk` header staying `key`'s public key. */
  hs256Secret?: Uint8Array;
  /** Sign with this key while the `jwk` header names `key` (the signature then fails to verify). */
  signWith?: DpopKey;
  /** Extra or replacing claims (set a claim to `undefined` to remove it). */
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Flip the first character of the third segment (the first character carries 6 full bits, so the bytes change). */
export function tamper(jws: string): string {
  const [h, p, s] = jws.split('.') as [string, string, string];
  const c = s[0] === 'A' ? 'B' : 'A';
  return `${h}.${p}.${c}${s.slice(1)}`;
}

export async function buildProof(o: ProofOptions): Promise<string> {
  const now = o.nowSeconds ?? Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    jti: o.jti ?? randomBytes(16).toString('base64url'),
    htm: o.htm,
    htu: o.htu,
    iat: now + (o.iatOffset ?? 0),
    ...(o.accessToken !== undefined ? { ath: athOf(o.accessToken) } : {}),
    ...(o.athOverride !== undefined ? { ath: o.athOverride } : {}),
    ...o.claims,
  };
  const alg = o.unsigned ? 'none' : o.hs256Secret ? 'HS256' : (o.signWith ?? o.key).alg;
  const jwk = o.jwkOverride ?? { ...(o.embedPrivateKey ? o.key.privateJwk : o.key.publicJwk), ...o.jwkExtra };
  const header: Record<string, unknown> = { typ: o.typ ?? 'dpop+jwt', alg, jwk, ...o.header };
  for (const name of o.omit ?? []) {
    delete payload[name];
    delete header[name];
  }
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  let jws: string;
  if (o.unsigned) {
    jws = `${b64(header)}.${b64(payload)}.`;
  } else {
    const signer = new SignJWT(payload).setProtectedHeader(header as { alg: string });
    jws = await signer.sign(o.hs256Secret ?? (o.signWith ?? o.key).privateKey);
  }
  return o.tamperSignature ? tamper(jws) : jws;
}
