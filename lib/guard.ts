/**
 * `mcpAuth(options)`: validates the options, builds everything once (verifier, cache, key set,
 * policy, challenge strings, metadata document) and returns the guard.
 */
import type { RequestHandler } from 'express';
import { checkToken } from './bearer.js';
import { makeEmitter } from './events.js';
import { makeBodyReader } from './express/body.js';
import { makeListFilter } from './express/filter-list.js';
import { metadataMiddleware, metadataResponder } from './express/metadata-router.js';
import { protectMiddleware, type ProtectContext, type ProtectOptions } from './express/protect.js';
import { makeResponder } from './express/respond.js';
import { protectedResourceMetadata } from './metadata.js';
import { knownScopesOf, resolveOptions, type Config, type Options } from './options.js';
import { Bindings } from './policy/bindings.js';
import { compilePolicy } from './policy/tools.js';
import type { AuthInfo } from './types.js';
import { DpopProofChecker } from './verify/dpop.js';
import { DpopNonces } from './verify/dpop-nonce.js';
import { Verifier } from './verify/index.js';

/** What {@link mcpAuth} returns. */
export interface McpAuthGuard {
  /** Express middleware: token, audience, required/route/tool scopes; sets `req.auth`. */
  protect(opts?: ProtectOptions): RequestHandler;
  /** Express middleware serving the RFC 9728 document (mount it app-wide, never behind the guard). */
  metadata(): RequestHandler;
  /**
   * Framework-free verification: `AuthInfo`, or a rejection with an `McpAuthError`. The token gets
   * the header path's checks first (size cap, b64token grammar: failures are 401 `invalid_token`).
   * `requiredScopes`, route and tool scopes are not applied: check `scopes` yourself (`hasScopes`).
   * A token bound to a key (DPoP) is refused: no proof comes with it (with `dpop: 'required'`, so
   * is every token).
   */
  verify(token: string): Promise<AuthInfo>;
  /** Resolves once discovery and keys are loaded; rejects with the reason. Optional warm-up. */
  ready(): Promise<void>;
  /** Stops timers and drops cached keys and tokens. */
  close(): Promise<void>;
  /** The validated, frozen configuration. */
  readonly config: Config;
}

/**
 * Create a guard.
 *
 * @example
 * const auth = mcpAuth({ resource: 'https://mcp.example.com/mcp', issuer: 'https://auth.example.com' });
 * app.use(auth.metadata());
 * app.post('/mcp', auth.protect(), mcpHandler);
 *
 * @throws {ConfigError} listing every bad, missing or unknown option.
 */
export function mcpAuth(options: Options): McpAuthGuard {
  const config = resolveOptions(options);
  const emit = makeEmitter(config.onEvent);
  const verifier = new Verifier(config, emit);
  const knownScopes = knownScopesOf(config);
  const policy = compilePolicy(config, knownScopes);
  // 'base': what every request needs (requiredScopes, the * tool rule). 'all' adds scopesSupported,
  // and keeps the base (an explicit scopesSupported may leave it out): a token with exactly the
  // challenge's scopes must pass every request's required-scope check and the * rule.
  const base = config.baseScopes;
  const baseScope = [...new Set(config.challengeScope === 'all' ? [...base, ...config.scopesSupported] : base)];
  const sendMetadata = metadataResponder(protectedResourceMetadata(config));
  const sessions = config.bindSessions ? new Bindings(config.cacheMaxEntries) : undefined;
  // (dpopNonceSeconds needs dpop on: resolveOptions refuses it otherwise.)
  const nonces = config.dpopNonceSeconds > 0
    ? new DpopNonces(config.dpopNonceSecret, config.dpopNonceSeconds, config.resourceUrl.origin, config.clock)
    : undefined;
  const dpop = config.dpop === 'off' ? undefined : new DpopProofChecker(config, nonces);
  const ctx: ProtectContext = {
    config,
    verifier,
    respond: makeResponder(config, baseScope, nonces),
    policy,
    knownScopes,
    sessions,
    readBody: policy ? makeBodyReader(config.maxBodyBytes) : undefined,
    filterLists: policy ? makeListFilter(policy, emit) : undefined,
    emit,
    sendMetadata,
    dpop,
  };

  return Object.freeze({
    config,
    protect: (opts?: ProtectOptions) => protectMiddleware(ctx, opts),
    metadata: () => metadataMiddleware(sendMetadata, config.resourceMetadataPaths),
    verify: async (token: string) => {
      const info = await verifier.verify(checkToken(token, config.maxTokenBytes));
      // (No proof comes with a token handed over here.)
      dpop?.binding(info, 'verify');
      return info;
    },
    ready: () => verifier.ready(),
    close: async () => {
      verifier.close();
      sessions?.clear();
      dpop?.close();
      policy?.close();
    },
  });
}
