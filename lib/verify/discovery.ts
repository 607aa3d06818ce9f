/**
 * Authorization server metadata through `openid-client`: RFC 8414
 * (`/.well-known/oauth-authorization-server`) first, then OpenID Connect discovery. The issuer in
 * the document must equal the configured one exactly, string for string (RFC 8414 §3.3;
 * openid-client alone compares them as parsed URLs, so `…/` or `HTTP://…` would pass).
 *
 * One discovery at a time; a failed discovery is retried only after the cooldown, and the
 * failure surfaces as {@link AuthUnavailableError} (503, reason `discovery_failed`; a document
 * naming another issuer gets its own description, so `ready()` tells an operator what is wrong).
 * HTTP goes through the same timeout and size cap as the JWKS. The OpenID Connect fallback is tried
 * only when the RFC 8414 request got an answer (a 404, a bad document): after a timeout or a network
 * failure it is not, so a cold start fails within one timeout. When `jwksUri` and
 * `introspection.url` are both configured (or not needed), no discovery request is ever made; with
 * `introspection.url` configured, introspection never waits for discovery.
 *
 * Discovered endpoints follow the configuration rule for URLs (https:, or http: on a loopback host,
 * the latter only for an http: loopback issuer): a `jwks_uri` that does not is a 503
 * `discovery_failed`; an `introspection_endpoint` that does not is a 500 `invalid_options` (the
 * client secret and the token would travel in clear text).
 *
 * A discovered document is read again when it fails what is asked of it: no usable `jwks_uri` or
 * `introspection_endpoint`, or a discovered `jwks_uri` that answers with something other than a
 * key set (the keys moved). The re-read happens at the next attempt the cooldown allows, and the
 * old document keeps serving until one succeeds, so a bad deployment of the authorization server
 * does not outlive its fix, and an outage changes nothing for what the old document still serves.
 */
import * as client from 'openid-client';
import { AuthMisconfiguredError, AuthUnavailableError } from '../errors.js';
import type { Config } from '../options.js';
import { isAllowedDiscoveredUrl } from '../options.js';
import { cooldownLeftMs } from './cooldown.js';
import { boundedFetch, FetchFailure, linkedSignal, readBody, unlimitedController } from './http.js';

/** `application/jwt`, `application/token-introspection+jwt`, any `…+jwt` media type. */
const JWT_MEDIA_TYPE = /^\s*application\/(?:[^;\s]*\+)?jwt\s*(?:;|$)/i;

/** The description of the 500 for an authorization server without a known introspection endpoint. */
export const NO_INTROSPECTION_ENDPOINT = 'No introspection endpoint is known: set introspection.url';

/** Why a discovered document cannot serve the JWKS URI or introspection (`undefined`: it can). */
interface Problems {
  jwks: string | undefined;
  introspection: string | undefined;
}

/** The metadata names another issuer than the configured one (compared string for string). */
class IssuerMismatch extends Error {}

/** The discovered (or configured) server and our client at it. */
export class Discovery {
  #config: client.Configuration | undefined;
  /** The discovered document failed what was asked of it: read it again when the cooldown allows. */
  #stale = false;
  /** What each document read cannot serve ({@link #problemsOf}). */
  readonly #problems = new WeakMap<client.Configuration, Problems>();
  /** With `introspection.url`: the configuration introspection uses, without discovery. */
  readonly #introspection: client.Configuration | undefined;
  #inflight: Promise<client.Configuration> | undefined;
  #lastAttemptAt = -Infinity;
  #lastFailure: unknown;
  readonly #fetch: client.CustomFetch;
  /** Aborted by close(); every call in progress listens to it (no listener limit: the warning would be a false leak alarm). */
  readonly #closing = unlimitedController();
  /** Our client at the authorization server (a placeholder id when there is no introspection client). */
  readonly #clientId: string;
  readonly #clientAuth: client.ClientAuth;
  /** http: issuer (options allow it on loopback hosts only): discovery may use plain HTTP. */
  readonly #httpIssuer: boolean;
  /** http: issuer or introspection URL (loopback only): the configuration may use plain HTTP. */
  readonly #httpAllowed: boolean;

  constructor(private readonly c: Config) {
    const intro = c.introspection;
    this.#clientId = intro?.clientId ?? 'mcp-oauth-guard';
    this.#clientAuth = !intro ? client.None()
      : intro.authMethod === 'client_secret_post' ? client.ClientSecretPost(intro.clientSecret) : client.ClientSecretBasic(intro.clientSecret);
    this.#httpIssuer = new URL(c.issuer).protocol === 'http:';
    this.#httpAllowed = this.#httpIssuer || (intro?.url !== undefined && new URL(intro.url).protocol === 'http:');
    const maxBytes = c.jwksMaxBytes;
    // openid-client passes its own per-call signal (discovery: httpTimeoutSeconds, introspection:
    // introspection.timeoutSeconds); this outer cap only backs it up, so it is the larger of the two.
    const timeoutMs = Math.max(c.httpTimeoutSeconds, c.introspection?.timeoutSeconds ?? 0) * 1000;
    const closing = this.#closing.signal;
    this.#fetch = async (url, options) => {
      const init = options as RequestInit;
      const { signal, release } = linkedSignal(init.signal, closing);
      try {
        const response = await boundedFetch(url, { ...init, signal }, timeoutMs);
        // A JWT answer (RFC 9701 introspection, signed metadata) is never asked for (Accept:
        // application/json), and openid-client would take its claims without checking its signature.
        if (JWT_MEDIA_TYPE.test(response.headers.get('content-type') ?? '')) {
          await response.body?.cancel().catch(() => {});
          throw new FetchFailure('not_json', 'a JWT answer, which was not requested');
        }
        // A body that stalls is a timeout (or a network failure), as for the headers: never a bare
        // AbortError, which would send discovery on to the OpenID Connect address for a second timeout.
        const body = await readBody(response, maxBytes, signal);
        return new Response(response.status === 204 || response.status === 304 ? null : (body as Uint8Array<ArrayBuffer>), {
          status: response.status,
          headers: response.headers,
        });
      } finally {
        release();
      }
    };
    if (intro?.url) {
      const server = { issuer: c.issuer, introspection_endpoint: intro.url } as client.ServerMetadata;
      this.#introspection = this.#finish(new client.Configuration(server, this.#clientId, intro.clientSecret, this.#clientAuth));
    }
    if ((c.jwksUri !== undefined || c.tokenFormat === 'opaque') && (intro === undefined || intro.url !== undefined)) {
      // Everything is configured: no discovery request.
      const server: Record<string, string> = { issuer: c.issuer };
      if (c.jwksUri) server.jwks_uri = c.jwksUri;
      this.#config = this.#finish(new client.Configuration(server as client.ServerMetadata, this.#clientId, intro?.clientSecret, this.#clientAuth));
    }
  }

  /**
   * The configuration introspection calls use: the configured `introspection.url` (no discovery),
   * else the discovered `introspection_endpoint`, which must be https: or loopback http: (else
   * {@link AuthMisconfiguredError}, after one re-read of the metadata if the cooldown allows);
   * rejects like {@link get} when discovery fails.
   */
  async introspection(): Promise<client.Configuration> {
    if (this.#introspection) return this.#introspection;
    const { config, problems } = await this.#usable('introspection', false);
    if (problems.introspection !== undefined) throw new AuthMisconfiguredError({ reason: 'invalid_options', description: problems.introspection });
    return config;
  }

  /**
   * The configuration, discovering it when needed (waiting for the first discovery). A document
   * marked stale keeps serving at once while it is read again in the background, when the
   * cooldown allows: a re-read that hangs or fails changes nothing for what it still serves (the
   * key set's stale keys, introspection, `auto`'s choice).
   */
  get(): Promise<client.Configuration> {
    const current = this.#config;
    if (current) {
      // One background re-read at a time (a promise per caller would pile up while one hangs).
      if (this.#stale && this.#inflight === undefined) void this.#reread(current);
      return Promise.resolve(current);
    }
    if (this.#inflight) return this.#inflight;
    const now = this.c.clock();
    if (this.#cooldownLeftMs(now) > 0) return Promise.reject(this.#unavailable(now));
    return this.#read(now);
  }

  /**
   * Read a stale document again if the cooldown allows (or join the read under way): the new
   * document, or `current` when no read is allowed or it failed. Never rejects.
   */
  #reread(current: client.Configuration): Promise<client.Configuration> {
    if (this.#config !== current) return Promise.resolve(this.#config ?? current);
    if (this.#inflight) return this.#inflight.catch(() => current);
    const now = this.c.clock();
    if (this.#cooldownLeftMs(now) > 0) return Promise.resolve(current);
    return this.#read(now).catch(() => current);
  }

  /** One discovery (the cooldown allowed it); its document replaces the current one. */
  #read(now: number): Promise<client.Configuration> {
    this.#lastAttemptAt = now;
    this.#inflight = this.#discover().then(
      (config) => {
        this.#config = config;
        this.#stale = false;
        this.#lastFailure = undefined;
        return config;
      },
      (err: unknown) => {
        this.#lastFailure = err;
        throw this.#unavailable(this.c.clock());
      },
    ).finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /**
   * Why the metadata could not be read again, while a stale document still serves (the key set
   * names it when its keys are gone, rather than blaming the keys); else `undefined`.
   */
  rereadFailure(): AuthUnavailableError | undefined {
    return this.#stale && this.#lastFailure !== undefined ? this.#unavailable(this.c.clock()) : undefined;
  }

  /** Abort requests under way; no further discovery. */
  close(): void {
    this.#closing.abort();
  }

  /**
   * The JWKS URI: configured, or discovered (`jwks_uri`, which must be https:, or http: on a
   * loopback host for an http: loopback issuer). A stale document, or one without a usable
   * `jwks_uri`, is read again first when the cooldown allows (this waits: the keys are being
   * fetched anyway).
   */
  async jwksUri(): Promise<string> {
    if (this.c.jwksUri) return this.c.jwksUri;
    // A stale document's jwks_uri is suspect (the keys may have moved): read it again first.
    const { config, problems } = await this.#usable('jwks', this.#stale);
    if (problems.jwks !== undefined) throw new AuthUnavailableError({ reason: 'discovery_failed', description: problems.jwks });
    return config.serverMetadata().jwks_uri!;
  }

  /**
   * The current document for `what`: when it cannot serve it (or `reread`), marked stale and read
   * again first if the cooldown allows; with what is still wrong with the document it ends up with.
   */
  async #usable(what: keyof Problems, reread: boolean): Promise<{ config: client.Configuration; problems: Problems }> {
    let config = await this.get();
    if (reread || this.#problemsOf(config)[what] !== undefined) {
      this.#markStale(config);
      config = await this.#reread(config);
    }
    return { config, problems: this.#problemsOf(config) };
  }

  /** What a discovered document cannot serve, worked out once per document (its URLs never change). */
  #problemsOf(config: client.Configuration): Problems {
    let problems = this.#problems.get(config);
    if (problems === undefined) {
      const { jwks_uri: jwks, introspection_endpoint: intro } = config.serverMetadata();
      problems = {
        jwks: !jwks ? 'The authorization server metadata has no jwks_uri'
          : isAllowedDiscoveredUrl(jwks, this.c.issuer) ? undefined : 'The discovered jwks_uri is not an https: URL',
        introspection: intro === undefined || intro === null || intro === '' ? NO_INTROSPECTION_ENDPOINT
          : isAllowedDiscoveredUrl(intro, this.c.issuer) ? undefined : 'The discovered introspection endpoint is not an https: URL',
      };
      this.#problems.set(config, problems);
    }
    return problems;
  }

  /**
   * The discovered `jwks_uri` answered with something other than a key set (an HTTP error, not
   * JSON, no usable key), or the discovered introspection endpoint with something other than an
   * introspection answer (an HTTP error but a refusal of our credentials, not JSON): it may have
   * moved, so read the metadata again when the cooldown allows. Nothing for a configured
   * `jwksUri` or `introspection.url`.
   */
  moved(what: keyof Problems): void {
    const configured = what === 'jwks' ? this.c.jwksUri !== undefined : this.#introspection !== undefined;
    if (!configured && this.#config !== undefined) this.#markStale(this.#config);
  }

  /**
   * A discovered document could not serve what was asked of it: read it again at the next attempt
   * the cooldown allows (a bad deployment of the authorization server must not outlive its fix),
   * serving it meanwhile. Configured endpoints are never read again.
   */
  #markStale(config: client.Configuration): void {
    // (A configured document is never marked: jwksUri() and introspection() return before.)
    if (this.#config === config) this.#stale = true;
  }

  #finish(config: client.Configuration): client.Configuration {
    (config as unknown as Record<symbol, unknown>)[client.customFetch] = this.#fetch;
    // Introspection calls: the smaller of the two timeouts (httpTimeoutSeconds bounds every call).
    config.timeout = Math.min(this.c.introspection?.timeoutSeconds ?? this.c.httpTimeoutSeconds, this.c.httpTimeoutSeconds);
    if (this.#httpAllowed) client.allowInsecureRequests(config);
    return config;
  }

  async #discover(): Promise<client.Configuration> {
    const issuer = new URL(this.c.issuer);
    const intro = this.c.introspection;
    const insecure = this.#httpIssuer ? [client.allowInsecureRequests] : [];
    const options = (algorithm: 'oauth2' | 'oidc'): client.DiscoveryRequestOptions => ({
      algorithm,
      timeout: this.c.httpTimeoutSeconds,
      execute: insecure,
      [client.customFetch]: this.#fetch,
    });
    let config: client.Configuration;
    try {
      config = await client.discovery(issuer, this.#clientId, intro?.clientSecret, this.#clientAuth, options('oauth2'));
    } catch (first) {
      // A fetch that could not complete (network, timeout, size) is the cause itself, not openid-client's wrapper around it.
      const failure = first instanceof FetchFailure ? first : (first as { cause?: unknown } | null)?.cause;
      if (failure instanceof FetchFailure) throw failure;
      try {
        config = await client.discovery(issuer, this.#clientId, intro?.clientSecret, this.#clientAuth, options('oidc'));
      } catch {
        throw first;
      }
    }
    // openid-client compares the issuers as parsed URLs; RFC 8414 §3.3 asks for the identical string.
    if (config.serverMetadata().issuer !== this.c.issuer) throw new IssuerMismatch('the metadata names another issuer');
    // (A configured introspection.url never reads this configuration: see introspection().)
    return this.#finish(config);
  }

  /** What is left of the cooldown started by the last discovery. */
  #cooldownLeftMs(now: number): number {
    return cooldownLeftMs(now, this.#lastAttemptAt, this.c.jwksCooldownSeconds * 1000);
  }

  #unavailable(now: number): AuthUnavailableError {
    const waitMs = Math.max(1000, this.#cooldownLeftMs(now));
    const code = (this.#lastFailure as { code?: unknown } | null | undefined)?.code;
    return new AuthUnavailableError({
      reason: 'discovery_failed',
      description: code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' || this.#lastFailure instanceof IssuerMismatch
        ? 'The authorization server metadata names a different issuer than the configured one'
        : 'The authorization server metadata is unavailable',
      retryAfterSeconds: waitMs / 1000,
      cause: this.#lastFailure,
    });
  }
}
