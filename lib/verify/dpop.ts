/**
 * DPoP proofs at a protected resource (RFC 9449 §4.3 and §7.1; MCP's DPoP extension), framework-free.
 *
 * A request with `Authorization: DPoP <token>` carries one `DPoP` header: a JWT the client signs
 * with the key its token is bound to (`cnf.jkt`, checked beforehand by the token's own
 * verification). {@link DpopProofChecker.check} accepts it only when:
 * - there is exactly one `DPoP` header line, holding one compact JWS of at most 8 KiB;
 * - its header has `typ` `dpop+jwt`, an `alg` of `dpopAlgorithms` (asymmetric only), no `crit`,
 *   and a `jwk` that is a public key fit for that `alg` (`usableKey`: no private member, RSA of
 *   2048 to 8192 bits, no weak Ed25519 point);
 * - its payload has a `jti` (at most 256 characters), `htm` equal to the request's method, `htu`
 *   equal to the request's URI without query and fragment (the origin of the configured
 *   `resource` with the request's path: never `Host` or `X-Forwarded-*`), an `iat` at most
 *   `dpopProofWindowSeconds` from the clock either way, and `ath`, the SHA-256 of the token;
 * - the SHA-256 thumbprint of its `jwk` (RFC 7638) is the token's `cnf.jkt`;
 * - its signature verifies with that key (`node:crypto`, as for access tokens: `signature.ts`);
 * - the same key has not sent the same `jti` within the window (`proof-record.ts`: ten times
 *   `cacheMaxEntries` proofs, 100,000 to 1,000,000, a tenth of them per owner (a user's client, or
 *   a client without users: `quotaOwnerOf`), kept in this process only, never forgotten early).
 * - with `dpopNonceSeconds` set, its `nonce` is one this guard accepts (`dpop-nonce.ts`), checked
 *   before the signature; else 401 `use_dpop_nonce` ({@link UseDpopNonceError}).
 * Every other refusal is an {@link InvalidDpopProofError} (401 `invalid_dpop_proof`), but for a record
 * without room for the proof: 503 (`dpop_replay_record_full`), the request refused rather than
 * the proof left unrecorded. Without nonces (RFC 9449 §9 is optional), the `iat` window and the
 * `jti` record bound a replay.
 *
 * The checks of a header depend on its bytes alone, so they are remembered by its encoded segment
 * (a client sends the same header, its key, with every proof): parsing the key costs more than
 * checking the signature.
 */
import type { KeyObject } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { LRUCache } from 'lru-cache';
import { AuthUnavailableError, InvalidDpopProofError, InvalidTokenError, UseDpopNonceError, type McpAuthErrorReason } from '../errors.js';
import type { Config } from '../options.js';
import type { AuthInfo } from '../types.js';
import { tokenDigest } from './cache.js';
import { boundKeyOf } from './claims.js';
import type { DpopNonces } from './dpop-nonce.js';
import { usableKey } from './jwks.js';
import { ProofRecord } from './proof-record.js';
import { isCanonicalSignature, nativeKeyOf, verifySignature, type NativeKey } from './signature.js';

const MAX_PROOF_BYTES = 8192;
const MAX_JTI_LENGTH = 256;
const MAX_RSA_BITS = 8192;
/** Proof headers whose checks are remembered (a client sends the same header, its key, with every proof). */
const MAX_HEADERS = 1024;
const SEGMENT = /^[A-Za-z0-9_-]+$/;
const DPOP_TYP = /^(?:application\/)?dpop\+jwt$/i;
/**
 * The scheme and authority of an absolute-form request target (RFC 9112 §3.2.2) that every parser
 * reads alike: `http(s)://`, a host name or an IP literal, a port, then the path or nothing. No
 * userinfo, and nothing a parser may end the host on early (`;`, `'`, `%`, a second `:`): Express
 * (`url.parse`) would route `http://h:acme/mcp` as `/:acme/mcp`.
 */
const ABSOLUTE_FORM = /^https?:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?(?=\/|$)/i;

/** The members of each key type's RFC 7638 thumbprint, in its (lexicographic) order. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = { EC: ['crv', 'kty', 'x', 'y'], RSA: ['e', 'kty', 'n'], OKP: ['crv', 'kty', 'x'] };

function refuse(description: string, reason: Extract<McpAuthErrorReason, `dpop_${string}`> = 'dpop_proof_invalid'): InvalidDpopProofError {
  return new InvalidDpopProofError({ reason, description });
}

/** No room in the replay record (`proof-record.ts`): 503, the request refused rather than the proof left unrecorded. */
function recordFull(description: string, retryAfterMs: number): AuthUnavailableError {
  return new AuthUnavailableError({ reason: 'dpop_replay_record_full', retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)), description });
}

/** How a verified token came: with the `DPoP` scheme (a proof to check), `Bearer`, or handed to `verify()` (no proof at all). */
export type Presentation = 'dpop' | 'bearer' | 'verify';

/** `decode()` (`jose`'s: a JSON object, else it throws), or the refusal of a proof that is no JWT. */
function decoded<T>(decode: () => T): T {
  try {
    return decode();
  } catch {
    throw refuse('The DPoP proof is not a JWT');
  }
}

/** The RFC 7638 SHA-256 thumbprint of a public JWK already found usable (its members are strings). */
function jwkThumbprint(jwk: Record<string, unknown>): string {
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

/** A proof header that passed its checks: its algorithm, key (prepared for it), and the key's thumbprint. */
interface CheckedHeader {
  alg: string;
  nk: NativeKey;
  thumbprint: string;
}

/** What a request offers: its `DPoP` header lines, token, bound key, whose share of the replay record it counts against, method and request target. */
export interface ProofInput {
  /** Every `DPoP` header line received. */
  proofs: readonly string[];
  /** The access token (`Authorization: DPoP <token>`). */
  token: string;
  /** The key thumbprint the token is bound to (`cnf.jkt`). */
  jkt: string;
  /** Whose share of the replay record the proof counts against (`quotaOwnerOf` of the token). */
  owner: string;
  /** The HTTP method, as received. */
  method: string;
  /** The request target as received (`req.originalUrl`): its path is `htu`'s. */
  target: string;
}

/** Checks DPoP proofs for one guard and remembers the `jti`s it accepted. */
export class DpopProofChecker {
  readonly #mode: 'allowed' | 'required';
  readonly #algorithms: ReadonlySet<string>;
  readonly #windowSeconds: number;
  readonly #clock: () => number;
  readonly #origin: string;
  readonly #seen: ProofRecord;
  readonly #nonces: DpopNonces | undefined;
  /** Headers that passed, by their encoded segment: the same bytes pass the same checks (`#checkHeader`). */
  readonly #headers = new LRUCache<string, CheckedHeader>({ max: MAX_HEADERS });

  /** For a configuration with `dpop` on; `nonces` when `dpopNonceSeconds` is set. */
  constructor(c: Config, nonces?: DpopNonces) {
    if (c.dpop === 'off') throw new TypeError('DpopProofChecker: dpop is off');
    this.#mode = c.dpop;
    this.#algorithms = new Set(c.dpopAlgorithms);
    this.#windowSeconds = c.dpopProofWindowSeconds;
    this.#clock = c.clock;
    this.#origin = c.resourceUrl.origin;
    this.#seen = ProofRecord.sized(c.cacheMaxEntries);
    this.#nonces = nonces;
  }

  /**
   * The token's binding and how it came agree (RFC 9449 §7.1, §7.2): a token bound to a key only
   * with the `DPoP` scheme (and a proof made with that key: {@link check} it with the key
   * returned), a bearer token only otherwise, and with `'required'` none.
   * @returns the key thumbprint the proof must be made with (`'dpop'`), else `undefined`.
   * @throws {InvalidTokenError} `token_bound_to_key`, `token_not_bound`.
   */
  binding(info: AuthInfo, presented: Presentation): string | undefined {
    const jkt = boundKeyOf(info);
    if (presented === 'dpop') {
      if (jkt === undefined) throw new InvalidTokenError({ reason: 'token_not_bound', description: 'The access token is not bound to a key (cnf.jkt): it is no DPoP token' });
      return jkt;
    }
    if (jkt !== undefined) {
      throw new InvalidTokenError({
        reason: 'token_bound_to_key',
        description: presented === 'bearer' ? 'The access token is bound to a key: present it with the DPoP scheme and a DPoP proof' : 'The access token is bound to a key: it needs a DPoP proof, which verify() cannot check',
      });
    }
    // (protect() never gets here with 'required': the Bearer scheme is no credential there.)
    if (this.#mode === 'required') throw new InvalidTokenError({ reason: 'token_not_bound', description: 'Only DPoP-bound access tokens are accepted (dpop: required)' });
    return undefined;
  }

  /**
   * The `htu` a request to `target` must name: this resource's origin and the target's path.
   * `undefined` for a path the URL parser would change (dot segments, `%2e`, a backslash): the
   * application routes the path as received, so a proof naming its normal form (`/files/../mcp`
   * → `/mcp`) would be taken for another route's.
   */
  #expectedHtu(target: string): string | undefined {
    const end = target.search(/[?#]/);
    let path = end === -1 ? target : target.slice(0, end);
    if (!path.startsWith('/')) {
      // An absolute-form request target (`POST http://host/mcp`): its path as received (the URL
      // parser would already have made `/files/../mcp` into `/mcp`).
      const authority = ABSOLUTE_FORM.exec(path);
      if (authority === null) return undefined;
      path = path.slice(authority[0].length) || '/';
    }
    let url: URL;
    try { url = new URL(this.#origin + path); } catch { return undefined; }
    return url.pathname === path ? url.href : undefined;
  }

  /**
   * Accept the request's proof, or throw.
   * @returns with nonces on, the nonce to hand out with the response when the proof's is accepted
   *   but no longer the current one; else `undefined`.
   * @throws {InvalidDpopProofError}
   * @throws {UseDpopNonceError} with nonces on.
   * @throws {AuthUnavailableError} `dpop_replay_record_full`.
   */
  check(input: ProofInput): string | undefined {
    const { proofs } = input;
    if (proofs.length === 0) throw refuse('A DPoP proof (the DPoP header) is required with the DPoP scheme');
    if (proofs.length > 1) throw refuse('More than one DPoP header');
    const proof = proofs[0]!;
    if (proof.length > MAX_PROOF_BYTES) throw refuse('The DPoP proof is too large');
    const parts = proof.split('.');
    if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) throw refuse('The DPoP proof is not a compact JWS');
    const [encodedHeader, encodedPayload, signature] = parts as [string, string, string];
    const payload: Record<string, unknown> = decoded(() => decodeJwt(proof));
    let header = this.#headers.get(encodedHeader);
    if (header === undefined) {
      header = this.#checkHeader(proof);
      this.#headers.set(encodedHeader, header);
    }
    const { alg, nk } = header;

    // Claims (RFC 9449 §4.2, §4.3 steps 8 to 12).
    const { jti, htm, htu, iat, ath } = payload;
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) throw refuse('The DPoP proof jti is missing or malformed');
    if (htm !== input.method) throw refuse('The DPoP proof htm is not the request method');
    const expected = this.#expectedHtu(input.target);
    if (expected === undefined) throw refuse('The request target is not in a form a DPoP proof can name (dot segments, backslashes, or an absolute-form authority other than http(s)://host[:port])');
    if (typeof htu !== 'string' || withoutQuery(htu) !== expected) throw refuse('The DPoP proof htu is not the request URI');
    const now = this.#clock();
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw refuse('The DPoP proof iat is missing or not a number');
    if (Math.abs(now / 1000 - iat) > this.#windowSeconds) throw refuse('The DPoP proof iat is outside the accepted window');
    if (ath !== tokenDigest(input.token)) throw refuse('The DPoP proof ath is not the hash of the access token');
    if (header.thumbprint !== input.jkt) throw refuse('The DPoP proof key is not the key the access token is bound to', 'dpop_key_mismatch');

    // Server nonce (RFC 9449 §9, §4.3 step 10), before the signature: no signature is checked for
    // a proof that must be made again anyway.
    let handOut: string | undefined;
    const nonces = this.#nonces;
    if (nonces !== undefined) {
      const { nonce } = payload;
      const verdict = nonces.judge(nonce);
      if (verdict === 'refused') {
        throw nonce === undefined
          ? new UseDpopNonceError({ reason: 'dpop_nonce_missing' })
          : new UseDpopNonceError({ reason: 'dpop_nonce_invalid', description: 'The DPoP proof nonce is not one this server accepts now (expired, or never provided): use the one it provides (DPoP-Nonce)' });
      }
      if (verdict === 'accepted') handOut = nonces.current();
    }

    // Signature (RFC 9449 §4.3 step 7), with the key the token is bound to.
    if (!isCanonicalSignature(alg, nk.key, signature)) throw refuse('The DPoP proof signature is invalid');
    try {
      verifySignature(nk, `${encodedHeader}.${encodedPayload}`, signature);
    } catch {
      throw refuse('The DPoP proof signature is invalid');
    }

    // Replay (RFC 9449 §11.1): once per key and jti, while the proof could still be accepted.
    const recorded = this.#seen.add(input.owner, `${input.jkt}.${jti}`, (iat + this.#windowSeconds) * 1000 + 1000, now);
    switch (recorded.result) {
      case 'added':
        return handOut;
      case 'replayed':
        throw refuse('The DPoP proof was used before', 'dpop_proof_replayed');
      case 'owner_full':
        throw recordFull('This client sent more DPoP proofs than this server records for one in a proof window: retry later', recorded.retryAfterMs);
      case 'full':
        throw recordFull('This server records no more DPoP proofs until older ones expire: retry later', recorded.retryAfterMs);
    }
  }

  /**
   * The checks of a proof's header (RFC 9449 §4.2, §4.3 steps 4 to 7 but the signature): `typ`,
   * `alg`, no `crit`, a public `jwk` fit for `alg`, and that key prepared for the signature check.
   * @throws {InvalidDpopProofError}
   */
  #checkHeader(proof: string): CheckedHeader {
    const header: Record<string, unknown> = decoded(() => decodeProtectedHeader(proof));
    // (A media type: any case, `application/` optional, RFC 7515 §4.1.9.)
    if (typeof header.typ !== 'string' || !DPOP_TYP.test(header.typ)) throw refuse('The DPoP proof typ is not dpop+jwt');
    const alg = header.alg;
    if (typeof alg !== 'string' || !this.#algorithms.has(alg)) throw refuse('The DPoP proof algorithm is not accepted');
    if (header.crit !== undefined) throw refuse('The DPoP proof has critical header parameters');
    const jwk = header.jwk;
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw refuse('The DPoP proof has no jwk');
    // (Public, fit for alg, not weak: no private member such as d, the RSA rules, no small-order Ed25519 point.)
    const key: KeyObject | undefined = usableKey(jwk, [alg]);
    if (key === undefined) throw refuse('The DPoP proof jwk is not a public key for its algorithm');
    const bits = key.asymmetricKeyDetails?.modulusLength;
    if (bits !== undefined && bits > MAX_RSA_BITS) throw refuse('The DPoP proof key is too large');
    const nk = nativeKeyOf(alg, key);
    if (nk === undefined) throw refuse('The DPoP proof algorithm is not accepted');
    return { alg, nk, thumbprint: jwkThumbprint(jwk as Record<string, unknown>) };
  }

  /** Forget every proof and header seen. */
  close(): void {
    this.#seen.clear();
    this.#headers.clear();
  }
}
