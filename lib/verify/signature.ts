/**
 * The synchronous signature path: JWS signatures checked with `node:crypto` `verify()` on a
 * `KeyObject` prepared once per key, instead of `jose`'s WebCrypto call (an asynchronous
 * thread-pool hop per token that costs about as much as the verification itself).
 *
 * `jose` keeps everything else: the key set (`createLocalJWKSet`: selection by `kid`/`alg`/`kty`/
 * `use` and JWK import), and every claim rule (`validateClaimsSet`, reached through
 * `UnsecuredJWT.decode` on the token's own payload segment, with the same options as
 * `jwtVerify`). This path only runs for a key `jose` itself resolved and would accept for the
 * algorithm (a public `CryptoKey` whose algorithm, hash, curve, usage and RSA modulus length match
 * what `jose` checks); for anything else {@link nativeKey} answers `undefined` and the caller uses
 * `jose.jwtVerify`. The decisions are differential-tested against `jose` on the security battery
 * (`test/verify/signature-differential.test.ts`).
 *
 * Algorithms: RS256/384/512 (PKCS#1 v1.5), PS256/384/512 (PSS, salt length = hash length),
 * ES256/384/512 (IEEE P1363 `r || s`), EdDSA/Ed25519. Not here: HS* (never accepted by the guard),
 * ML-DSA (left to `jose`).
 */
import { constants, KeyObject, verify as cryptoVerify } from 'node:crypto';
import { base64url, errors as joseErrors, UnsecuredJWT, type JWTClaimVerificationOptions, type JWTPayload } from 'jose';

interface AlgSpec {
  /** WebCrypto algorithm name of the key `jose` imports for this `alg`. */
  name: string;
  hash?: string;
  namedCurve?: string;
  /** `node:crypto` digest name (`null` for Ed25519). */
  digest: string | null;
  padding?: number;
  saltLength?: number;
  dsaEncoding?: 'ieee-p1363';
  minRsaBits?: number;
}

const rsa = (bits: number, pss: boolean): AlgSpec => ({
  name: pss ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5',
  hash: `SHA-${bits}`,
  digest: `sha${bits}`,
  padding: pss ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING,
  ...(pss ? { saltLength: bits / 8 } : {}),
  minRsaBits: 2048,
});
const ec = (curve: string, bits: number): AlgSpec => ({ name: 'ECDSA', namedCurve: curve, digest: `sha${bits}`, dsaEncoding: 'ieee-p1363' });
const ed: AlgSpec = { name: 'Ed25519', digest: null };

const SPECS: ReadonlyMap<string, AlgSpec> = new Map([
  ['RS256', rsa(256, false)], ['RS384', rsa(384, false)], ['RS512', rsa(512, false)],
  ['PS256', rsa(256, true)], ['PS384', rsa(384, true)], ['PS512', rsa(512, true)],
  ['ES256', ec('P-256', 256)], ['ES384', ec('P-384', 384)], ['ES512', ec('P-521', 512)],
  ['EdDSA', ed], ['Ed25519', ed],
]);

/** A public key ready for the synchronous path, with the parameters of its algorithm. */
export interface NativeKey {
  spec: AlgSpec;
  key: KeyObject;
  /** The `key` argument of `crypto.verify()`, built once. */
  verifyKey: KeyObject | { key: KeyObject; padding: number; saltLength?: number } | { key: KeyObject; dsaEncoding: 'ieee-p1363' };
}

const prepared = new WeakMap<object, NativeKey>();
const NOT_B64URL = /[^A-Za-z0-9_-]/;

/**
 * The prepared key for `alg`, when `key` is a public `CryptoKey` that `jose` would use for `alg`
 * (same checks as `jose`'s `checkCryptoKey` and `checkModulusLength`); `undefined` otherwise,
 * and the caller must let `jose` decide.
 */
export function nativeKey(alg: string, key: unknown): NativeKey | undefined {
  const spec = SPECS.get(alg);
  if (spec === undefined || key === null || typeof key !== 'object') return undefined;
  if ((key as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] !== 'CryptoKey') return undefined;
  const ck = key as CryptoKey;
  if (ck.type !== 'public' || !ck.usages.includes('verify')) return undefined;
  const a = ck.algorithm as { name: string; hash?: { name?: string }; namedCurve?: string; modulusLength?: number };
  if (a.name !== spec.name) return undefined;
  if (spec.hash !== undefined && a.hash?.name !== spec.hash) return undefined;
  if (spec.namedCurve !== undefined && a.namedCurve !== spec.namedCurve) return undefined;
  if (spec.minRsaBits !== undefined && (typeof a.modulusLength !== 'number' || a.modulusLength < spec.minRsaBits)) return undefined;
  let nk = prepared.get(ck);
  if (nk === undefined || nk.spec !== spec) {
    nk = prepare(spec, KeyObject.from(ck));
    prepared.set(ck, nk);
  }
  return nk;
}

function prepare(spec: AlgSpec, key: KeyObject): NativeKey {
  const verifyKey = spec.digest === null ? key
    : spec.padding !== undefined ? { key, padding: spec.padding, ...(spec.saltLength !== undefined ? { saltLength: spec.saltLength } : {}) }
      : { key, dsaEncoding: spec.dsaEncoding! };
  return { spec, key, verifyKey };
}

/**
 * A public `KeyObject` prepared for `alg` (a {@link NativeKey}), or `undefined` when `alg` is not
 * one of this path's. For a key the caller already found fit for `alg` (`usableKey`): a DPoP
 * proof's own key (`lib/verify/dpop.ts`).
 */
export function nativeKeyOf(alg: string, key: KeyObject): NativeKey | undefined {
  const spec = SPECS.get(alg);
  return spec === undefined ? undefined : prepare(spec, key);
}

/**
 * Check the signature of a compact JWS: `signingInput` is `header.payload` exactly as received,
 * `signature` its third segment, already found canonical base64url of the key's size by
 * {@link isCanonicalSignature} (which every key {@link nativeKey} prepares can be checked by).
 * Throws `JWSSignatureVerificationFailed` for a wrong one (as `jose` does).
 */
export function verifySignature(nk: NativeKey, signingInput: string, signature: string): void {
  const sig = Buffer.from(signature, 'base64url');
  let ok = false;
  try {
    ok = cryptoVerify(nk.spec.digest, Buffer.from(signingInput, 'latin1'), nk.verifyKey, sig);
  } catch (cause) {
    throw new joseErrors.JWSSignatureVerificationFailed(undefined, { cause });
  }
  if (!ok) throw new joseErrors.JWSSignatureVerificationFailed();
}

/** Signature octets of the fixed-size algorithms (RFC 7518 §3.4: 2 × the curve's size; RFC 8037 §3.1). */
const FIXED_SIGNATURE_BYTES: ReadonlyMap<string, number> = new Map([['ES256', 64], ['ES384', 96], ['ES512', 132], ['EdDSA', 64], ['Ed25519', 64]]);

/**
 * Whether `signature` (the third segment) is the one spelling of a signature of the right size for
 * `alg` and `key`: exactly k octets (RSA: the modulus length, RFC 8017 §8.1.2 and §8.2.2 step 1;
 * OpenSSL's PSS check takes a shorter one as the same number), in canonical base64url (no unused
 * bits set, RFC 4648 §3.5). Otherwise one token could arrive as several strings, each a cache entry
 * of its own and a way around any list of refused tokens. Refused before either signature path runs.
 */
export function isCanonicalSignature(alg: string, key: unknown, signature: string): boolean {
  let bytes = FIXED_SIGNATURE_BYTES.get(alg);
  if (bytes === undefined) {
    const bits = key instanceof KeyObject ? key.asymmetricKeyDetails?.modulusLength
      : (key as { algorithm?: { modulusLength?: unknown } } | null)?.algorithm?.modulusLength;
    if (typeof bits !== 'number') return true; // not an RSA key: the signature paths decide
    bytes = Math.ceil(bits / 8);
  }
  if (signature.length !== Math.ceil((bytes * 4) / 3) || NOT_B64URL.test(signature)) return false;
  return Buffer.from(signature, 'base64url').toString('base64url') === signature;
}

const NONE_HEADER = base64url.encode('{"alg":"none"}');

/**
 * `jose`'s own claim validation (the `validateClaimsSet` that `jwtVerify` runs) on the token's
 * payload segment: JSON object, required claims, `iss`, `aud`, `nbf`, `exp` with `clockTolerance`.
 * Only call after the signature was verified.
 */
export function validateClaims(encodedPayload: string, options: JWTClaimVerificationOptions): JWTPayload {
  return UnsecuredJWT.decode(`${NONE_HEADER}.${encodedPayload}.`, options).payload;
}
