/**
 * The verification strategy: JWT via JWKS, opaque via introspection, or `auto` by shape (a token
 * shaped like a JWS goes to JWT validation and never falls back to introspection; when the
 * authorization server publishes no keys, no `jwksUri` and no `jwks_uri` in its metadata, every
 * token is introspected), in front of the verification cache. A cache hit answers synchronously: no promise, no hop.
 *
 * With several trusted issuers (JWTs only), each has its own discovery and key set; a JWT goes to
 * the issuer its (not yet verified) `iss` names and is verified with that issuer's keys and `iss`
 * only, so a token signed by one issuer's key cannot pass as another's. An `iss` that names no
 * trusted issuer is refused before any key is fetched. One cache serves them all.
 */
import { decodeJwt } from 'jose';
import { AuthUnavailableError, InvalidTokenError, McpAuthError } from '../errors.js';
import type { GuardEvent } from '../events.js';
import { configForIssuer, type Config } from '../options.js';
import type { AuthInfo } from '../types.js';
import { VerificationCache } from './cache.js';
import { toAuthInfo } from './claims.js';
import { Discovery } from './discovery.js';
import { introspectionVerifier } from './introspection.js';
import { RemoteKeySet } from './jwks.js';
import { jwtVerifier, looksLikeJws } from './jwt.js';
import type { AnswerSpan } from './recheck.js';

/** One trusted issuer: its discovery, and (unless every token is introspected) its keys and JWT check. */
interface Issuer {
  issuer: string;
  discovery: Discovery;
  keys: RemoteKeySet | undefined;
  jwt: ((token: string) => Promise<AuthInfo>) | undefined;
}

/** Verifies tokens into `AuthInfo`, with caching and coalescing. */
export class Verifier {
  readonly cache: VerificationCache;
  readonly #c: Config;
  /** Every trusted issuer, in the configured order; the first's discovery also serves introspection. */
  readonly #issuers: readonly Issuer[];
  /** With several issuers: each by its identifier, for the JWT whose `iss` names it. */
  readonly #byIss: ReadonlyMap<string, Issuer> | undefined;
  readonly #opaque: ((token: string, wanted?: () => boolean) => Promise<AuthInfo>) | undefined;
  /** Each introspected `AuthInfo`'s answer: when it came (ms, the injected clock), whether it named an `exp`. */
  readonly #answers = new WeakMap<AuthInfo, { atMs: number; hasExp: boolean }>();

  /** The first issuer's key set (diagnostics and benchmarks: `bench/micro.ts`). */
  get keys(): RemoteKeySet | undefined {
    return this.#issuers[0]!.keys;
  }

  constructor(c: Config, emit: ((event: GuardEvent) => void) | undefined) {
    this.#c = c;
    this.cache = new VerificationCache({
      maxEntries: c.cacheMaxEntries,
      maxAgeSeconds: c.cacheMaxAgeSeconds,
      negativeSeconds: c.negativeCacheSeconds,
      clock: c.clock,
    });
    this.#issuers = c.issuers.map((issuer): Issuer => {
      const ic = configForIssuer(c, issuer);
      const discovery = new Discovery(ic);
      if (c.tokenFormat === 'opaque') return { issuer, discovery, keys: undefined, jwt: undefined };
      const keys = new RemoteKeySet(() => discovery.jwksUri(), {
        algorithms: c.algorithms,
        timeoutMs: c.httpTimeoutSeconds * 1000,
        cooldownMs: c.jwksCooldownSeconds * 1000,
        maxAgeMs: c.jwksCacheMaxAgeSeconds * 1000,
        maxStaleMs: c.jwksMaxStaleSeconds * 1000,
        maxBytes: c.jwksMaxBytes,
        clock: c.clock,
        emit,
        issuer,
        // A discovered jwks_uri that no longer serves keys: read the metadata again (keys may have moved).
        notAKeySet: () => discovery.moved('jwks'),
        discoveryFailure: () => discovery.rereadFailure(),
      });
      const verifyJwt = jwtVerifier(ic, keys);
      const jwt = async (token: string): Promise<AuthInfo> => {
        const { payload } = await verifyJwt(token);
        return toAuthInfo(token, payload as Record<string, unknown>, payload.exp as number, c);
      };
      return { issuer, discovery, keys, jwt };
    });
    if (this.#issuers.length > 1) this.#byIss = new Map(this.#issuers.map((i) => [i.issuer, i]));
    if (c.tokenFormat !== 'jwt') {
      const introspect = introspectionVerifier(c, this.#issuers[0]!.discovery, emit);
      this.#opaque = async (token, wanted) => {
        const { claims, exp } = await introspect(token, wanted);
        // No exp: the cache bounds it by cacheMaxAgeSeconds; AuthInfo.expiresAt is always set, and
        // ahead of now (at least 1 s, also without a cache), or consumers such as the SDK's
        // requireBearerAuth would take the token just accepted for expired.
        const now = c.clock();
        const expiresAt = exp ?? Math.ceil(now / 1000 + Math.max(c.cacheMaxAgeSeconds, 1));
        const info = toAuthInfo(token, claims, expiresAt, c);
        this.#answers.set(info, { atMs: now, hasExp: exp !== undefined });
        return info;
      };
    }
  }

  /**
   * Verify a token: `AuthInfo` (synchronously on a cache hit) or a rejection with an {@link McpAuthError}.
   * `detail` (passed only when decision events are on) learns whether the cache answered.
   * `check` (a grammar check that throws) runs only when the cache knows nothing of the token: a
   * cached answer, positive or negative, is keyed by the SHA-256 of the very string that passed it.
   */
  verify(token: string, detail?: { cached: boolean }, check?: (token: string) => void): AuthInfo | Promise<AuthInfo> {
    return this.#verify(token, detail, check, undefined);
  }

  /**
   * {@link verify} for a stream's token asked about again (`recheck.ts`): an introspection call it
   * needs waits for a slot instead of being refused by `introspection.maxConcurrent`; it joins a
   * request's verification of the token under way, and requests never join it. `wanted`: whether
   * the stream still waits for the answer; a call waiting for a slot that no stream waits for any
   * more is not made (the promise then rejects with an {@link AuthUnavailableError}).
   */
  recheck(token: string, wanted: () => boolean): AuthInfo | Promise<AuthInfo> {
    return this.#verify(token, undefined, undefined, wanted);
  }

  /** `wanted`: given for a stream's recheck ({@link recheck}). */
  #verify(token: string, detail: { cached: boolean } | undefined, check: ((token: string) => void) | undefined, wanted: (() => boolean) | undefined): AuthInfo | Promise<AuthInfo> {
    const key = this.cache.key(token);
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      if (detail !== undefined) detail.cached = true;
      return hit;
    }
    const negative = this.cache.getNegative(key);
    if (negative !== undefined) {
      if (detail !== undefined) detail.cached = true;
      return Promise.reject(negative);
    }
    if (check !== undefined) check(token);
    return this.cache.coalesce(key, (anyWanted) => this.#verifyUncached(token, key, anyWanted), wanted);
  }

  /**
   * For an `AuthInfo` an introspection answer gave, the span a stream relies on it
   * (`recheck.ts`): from when it came (the injected clock); until it is older than
   * `cacheMaxAgeSeconds` (at least 1 s) or just before its `exp`, whichever comes first, when the
   * cache no longer holds it (already past for an answer given between `exp` and `exp` +
   * `clockTolerance`, which is never cached); and until `exp` + `clockTolerance` (`Infinity` for an
   * answer without `exp`, whose `expiresAt` is the cache's bound, not the authorization server's).
   * `undefined` for a JWT's, which nothing but its `exp` ends.
   */
  answerSpan(info: AuthInfo): AnswerSpan | undefined {
    const answer = this.#answers.get(info);
    if (answer === undefined || info.expiresAt === undefined) return undefined;
    let askAgainAtMs = answer.atMs + Math.max(this.#c.cacheMaxAgeSeconds, 1) * 1000;
    if (!answer.hasExp) return { answeredAtMs: answer.atMs, askAgainAtMs, expiresAtMs: Infinity };
    // As the cache: no longer at `exp` itself (a request then asks again, clockTolerance or not).
    askAgainAtMs = Math.min(askAgainAtMs, info.expiresAt * 1000 - 1);
    return { answeredAtMs: answer.atMs, askAgainAtMs, expiresAtMs: (info.expiresAt + this.#c.clockTolerance) * 1000 };
  }

  async #verifyUncached(token: string, key: string, wanted: (() => boolean) | undefined): Promise<AuthInfo> {
    const jwt = this.#c.tokenFormat === 'jwt' || (this.#c.tokenFormat === 'auto' && looksLikeJws(token) && await this.#publishesKeys());
    const run = jwt ? (this.#byIss === undefined ? this.#issuers[0]!.jwt : this.#jwtOfIssuer(token)) : this.#opaque;
    if (!run) throw new InvalidTokenError({ reason: 'unsupported_token_type', description: 'The access token format is not accepted' });
    try {
      const info = await run(token, wanted);
      this.cache.set(key, info, info.expiresAt);
      return info;
    } catch (err) {
      if (err instanceof McpAuthError) {
        if (!jwt && err.status === 401) this.cache.setNegative(key, err);
        throw err;
      }
      throw new InvalidTokenError({ reason: 'malformed_token', cause: err });
    }
  }

  /**
   * With several issuers: the JWT check of the issuer the token's `iss` names. Refused (401
   * `issuer_mismatch`) when it names none of them, or its payload does not decode (no `iss` to
   * read), before any fetch. A token that is no JWS at all, or whose header does not decode, is the
   * JWT check's to refuse with its own reason (`malformed_token`, `unsupported_token_type`): the
   * first issuer's, which refuses it before asking for any key.
   */
  #jwtOfIssuer(token: string): ((token: string) => Promise<AuthInfo>) | undefined {
    if (!looksLikeJws(token)) return this.#issuers[0]!.jwt;
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      iss = undefined;
    }
    const found = typeof iss === 'string' ? this.#byIss!.get(iss) : undefined;
    if (found === undefined) throw new InvalidTokenError({ reason: 'issuer_mismatch', description: 'The access token issuer is not accepted' });
    return found.jwt;
  }

  /**
   * `auto`: whether JWTs can be checked here at all (a configured `jwksUri`, or a `jwks_uri` in the
   * metadata). An authorization server without keys has only introspection, so a JWS-shaped token
   * is introspected (junk then gets 401 from `active: false`, never a 503 for keys nobody offers).
   */
  async #publishesKeys(): Promise<boolean> {
    if (this.#c.jwksUri !== undefined) return true;
    const uri: unknown = (await this.#issuers[0]!.discovery.get()).serverMetadata().jwks_uri;
    return uri !== undefined && uri !== null && uri !== '';
  }

  /** Warm discovery and keys; rejects with the reason (also when introspection has no endpoint). */
  async ready(): Promise<void> {
    const several = this.#byIss !== undefined;
    if (several || this.#c.tokenFormat === 'jwt' || (this.#issuers[0]!.keys && await this.#publishesKeys())) {
      await Promise.all(this.#issuers.map(async ({ issuer, keys }) => {
        try {
          await keys?.ready();
        } catch (err) {
          // With several issuers, which one failed: an operator must know which server is down.
          if (!several || !(err instanceof AuthUnavailableError)) throw err;
          throw new AuthUnavailableError({ reason: err.reason, description: `${err.description} (issuer ${issuer})`, retryAfterSeconds: err.retryAfterSeconds, cause: err });
        }
      }));
    }
    // Rejects when no introspection endpoint is known (NO_INTROSPECTION_ENDPOINT).
    if (this.#opaque) await this.#issuers[0]!.discovery.introspection();
  }

  /** Abort fetches under way, stop fetching, drop cached tokens. */
  close(): void {
    for (const { keys, discovery } of this.#issuers) {
      keys?.close();
      discovery.close();
    }
    this.cache.close();
  }
}
