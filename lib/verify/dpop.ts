/**
 * DPoP proofs at a protected resource (RFC 9449 §4.3 and §7.1; MCP's DPoP extension), framework-free.
 *
 * A request with `Authorization: DPoP <token>` carries one `DPoP` header: a JWT the client signs
 * with the key its token is bound to (`cnf.jkt`, checked beforehand by the token's own
 * verification). {@link DpopProofChecker.check} accepts it only when:
 * - there is exactly one `DPoP` header line, holding one compact JWS of at most 8 KiB;
 * - its header has `typ` `dpop+jwt`, an `alg` of `dpopAlgorithms` (asymmetric only), no `crit`,
 *   and a `jwk` that is a public key fit for that `alg` (`isUsableKey`: no private member, RSA of
 *   2048 to 8192 bits, no weak Ed25519 point);
 * - its payload has a `jti` (at most 256 characters), `htm` equal to the request's method, `htu`
 *   equal to the request's URI without query and fragment (the origin of the configured
 *   `resource` with the request's path: never `Host` or `X-Forwarded-*`), an `iat` at most
 *   `dpopProofWindowSeconds` from the clock either way, and `ath`, the SHA-256 of the token;
 * - the SHA-256 thumbprint of its `jwk` (RFC 7638) is the token's `cnf.jkt`;
 * - its signature verifies with that key (`node:crypto`, as for access tokens: `signature.ts`);
 * - the same key has not sent the same `jti` within the window (a bounded record of ten times
 *   `cacheMaxEntries` proofs, 1,000 to 1,000,000, the oldest forgotten first, kept in this
 *   process only).
 * Every refusal is an {@link InvalidDpopProofError} (401 `invalid_dpop_proof`). No nonce is issued
 * (RFC 9449 §9 is optional: the `iat` window and the `jti` record bound a replay).
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { InvalidDpopProofError } from '../errors.js';
import type { Config } from '../options.js';
import { tokenDigest } from './cache.js';
import { isUsableKey, PRIVATE_MEMBERS } from './jwks.js';
import { isCanonicalSignature, nativeKeyOf, verifySignature } from './signature.js';

const MAX_PROOF_BYTES = 8192;
const MAX_JTI_LENGTH = 256;
const MAX_RSA_BITS = 8192;
const MAX_SEEN = 1_000_000;
const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** The members of each key type's RFC 7638 thumbprint, in its (lexicographic) order. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = { EC: ['crv', 'kty', 'x', 'y'], RSA: ['e', 'kty', 'n'], OKP: ['crv', 'kty', 'x'] };

function refuse(description: string, reason: 'dpop_proof_invalid' | 'dpop_proof_replayed' | 'dpop_key_mismatch' = 'dpop_proof_invalid'): InvalidDpopProofError {
  return new InvalidDpopProofError({ reason, description });
}

/** A base64url JSON object segment, or `undefined`. */
function decodeObject(segment: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The RFC 7638 SHA-256 thumbprint of a public JWK already found usable (its members are strings). */
export function jwkThumbprint(jwk: Record<string, unknown>): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty as string] ?? [];
  return tokenDigest(JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]]))));
}

/** `http(s)` URI without query and fragment, normalised by the URL parser; `undefined` if none. */
function withoutQuery(uri: string): string | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  u.search = '';
  u.hash = '';
  return u.href;
}

/** What a request offers: its `DPoP` header lines, token, bound key, method and request target. */
export interface ProofInput {
  /** Every `DPoP` header line received. */
  proofs: readonly string[];
  /** The access token (`Authorization: DPoP <token>`). */
  token: string;
  /** The key thumbprint the token is bound to (`cnf.jkt`). */
  jkt: string;
  /** The HTTP method, as received. */
  method: string;
  /** The request target as received (`req.originalUrl`): its path is `htu`'s. */
  target: string;
}

/** Checks DPoP proofs for one guard and remembers the `jti`s it accepted. */
export class DpopProofChecker {
  readonly #algorithms: ReadonlySet<string>;
  readonly #windowSeconds: number;
  readonly #clock: () => number;
  readonly #origin: string;
  readonly #seen: LRUCache<string, true>;

  constructor(c: Config) {
    this.#algorithms = new Set(c.dpopAlgorithms);
    this.#windowSeconds = c.dpopProofWindowSeconds;
    this.#clock = c.clock;
    this.#origin = c.resourceUrl.origin;
    // (lru-cache allocates its index for `max` entries up front.)
    this.#seen = new LRUCache({ max: Math.min(MAX_SEEN, Math.max(1000, c.cacheMaxEntries * 10)), ttlAutopurge: false, ttlResolution: 0, perf: { now: c.clock } });
  }

  /** The `htu` a request to `target` must name: this resource's origin and the target's path. */
  #expectedHtu(target: string): string | undefined {
    const end = target.search(/[?#]/);
    let path = end === -1 ? target : target.slice(0, end);
    if (!path.startsWith('/')) {
      // An absolute-form request target (`POST http://host/mcp`): its path.
      try { path = new URL(path).pathname; } catch { return undefined; }
    }
    return withoutQuery(this.#origin + path);
  }

  /**
   * Accept the request's proof, or throw.
   * @throws {InvalidDpopProofError}
   */
  check(input: ProofInput): void {
    const { proofs } = input;
    if (proofs.length === 0) throw refuse('A DPoP proof (the DPoP header) is required with the DPoP scheme');
    if (proofs.length > 1) throw refuse('More than one DPoP header');
    const proof = proofs[0]!;
    if (proof.length > MAX_PROOF_BYTES) throw refuse('The DPoP proof is too large');
    const parts = proof.split('.');
    if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) throw refuse('The DPoP proof is not a compact JWS');
    const [encodedHeader, encodedPayload, signature] = parts as [string, string, string];
    const header = decodeObject(encodedHeader);
    const payload = decodeObject(encodedPayload);
    if (header === undefined || payload === undefined) throw refuse('The DPoP proof is not a JWT');

    // Header (RFC 9449 §4.2).
    if (header.typ !== 'dpop+jwt') throw refuse('The DPoP proof typ is not dpop+jwt');
    const alg = header.alg;
    if (typeof alg !== 'string' || !this.#algorithms.has(alg)) throw refuse('The DPoP proof algorithm is not accepted');
    if (header.crit !== undefined) throw refuse('The DPoP proof has critical header parameters');
    const jwk = header.jwk;
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw refuse('The DPoP proof has no jwk');
    const members = jwk as Record<string, unknown>;
    if (PRIVATE_MEMBERS.some((m) => members[m] !== undefined)) throw refuse('The DPoP proof jwk holds a private key');
    if (!isUsableKey(jwk, [alg])) throw refuse('The DPoP proof jwk is not a public key for its algorithm');

    // Claims (RFC 9449 §4.2, §4.3 steps 8 to 12).
    const { jti, htm, htu, iat, ath } = payload;
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) throw refuse('The DPoP proof jti is missing or malformed');
    if (typeof htm !== 'string' || htm !== input.method) throw refuse('The DPoP proof htm is not the request method');
    const expected = this.#expectedHtu(input.target);
    if (typeof htu !== 'string' || expected === undefined || withoutQuery(htu) !== expected) throw refuse('The DPoP proof htu is not the request URI');
    const now = this.#clock();
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw refuse('The DPoP proof iat is missing or not a number');
    if (Math.abs(now / 1000 - iat) > this.#windowSeconds) throw refuse('The DPoP proof iat is outside the accepted window');
    if (typeof ath !== 'string' || ath !== tokenDigest(input.token)) throw refuse('The DPoP proof ath is not the hash of the access token');
    if (jwkThumbprint(members) !== input.jkt) throw refuse('The DPoP proof key is not the key the access token is bound to', 'dpop_key_mismatch');

    // Signature (RFC 9449 §4.3 step 7), with the key the token is bound to.
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch {
      throw refuse('The DPoP proof jwk is not a public key for its algorithm');
    }
    const bits = key.asymmetricKeyDetails?.modulusLength;
    if (bits !== undefined && bits > MAX_RSA_BITS) throw refuse('The DPoP proof key is too large');
    const nk = nativeKeyOf(alg, key);
    if (nk === undefined || !isCanonicalSignature(alg, key, signature)) throw refuse('The DPoP proof signature is invalid');
    try {
      verifySignature(nk, `${encodedHeader}.${encodedPayload}`, signature);
    } catch {
      throw refuse('The DPoP proof signature is invalid');
    }

    // Replay (RFC 9449 §11.1): once per key and jti, while the proof could still be accepted.
    const seenKey = tokenDigest(`${input.jkt}.${jti}`);
    if (this.#seen.has(seenKey)) throw refuse('The DPoP proof was used before', 'dpop_proof_replayed');
    const ttlMs = Math.floor((iat + this.#windowSeconds) * 1000 - now);
    this.#seen.set(seenKey, true, { ttl: Math.max(1, ttlMs) + 1000 });
  }

  /** Forget every proof seen. */
  close(): void {
    this.#seen.clear();
  }
}
