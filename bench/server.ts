/**
 * One benchmark app in its own process: Express 5, `express.json()`, one `POST /mcp` route that
 * answers a small JSON-RPC result, behind the variant's auth middleware. Listens on 127.0.0.1:0
 * and talks to the runner over IPC: `ready` (port), `stats` (RSS, heap after a GC).
 *
 * Variants: `bare` (no auth), `noop` (one pass-through middleware: what any middleware costs),
 * `guard` (this library), `ref` (`minimal-cache.ts`: the least any cached guard does on a hit),
 * `auth0` (`express-oauth2-jwt-bearer`),
 * `sdk` (`@modelcontextprotocol/sdk` `requireBearerAuth` with a `jose` verifier).
 */
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import type { JWTVerifyResult } from 'jose';

export interface ServerConfig {
  variant: 'bare' | 'noop' | 'guard' | 'auth0' | 'sdk' | 'ref';
  alg: 'RS256' | 'ES256';
  issuer: string;
  jwksUri: string;
  introspectionUrl: string;
  audience: string;
  scope: string;
  /** guard only: opaque tokens via introspection. */
  opaque?: boolean;
  /** guard only: `cacheMaxEntries` (default: the library's). */
  cacheMaxEntries?: number;
  /** guard only: an `onEvent` listener that counts events (the cost of having one). */
  listener?: boolean;
  /**
   * Time the auth middleware in place (`bench/ab.ts --in-situ`): wall time from entering it to its
   * `next()`, summed in `stats` (`authNs`, `authCalls`). For cache hits, which never leave the turn;
   * it adds a timer and a closure per request, so never in the report's rows.
   */
  timeAuth?: boolean;
  /** guard only: more options (diagnostics, `bench/profile.ts`). */
  guardOptions?: Record<string, unknown>;
}

type Msg = { type: 'stats'; gc?: boolean };

let events = 0;
/** The listener of the `listener` variant: as cheap as a real counter (`events` is read by nobody). */
function countEvent(): void {
  events++;
}

/** `jose.jwtVerify` against the remote JWKS with the variant's claim rules (`ref`'s miss path, `sdk`'s verifier). */
async function joseVerifier(c: ServerConfig): Promise<(token: string) => Promise<JWTVerifyResult>> {
  const { createRemoteJWKSet, jwtVerify } = await import('jose');
  const jwks = createRemoteJWKSet(new URL(c.jwksUri));
  return (token) => jwtVerify(token, jwks, { issuer: c.issuer, audience: c.audience, algorithms: [c.alg] });
}

async function authMiddleware(c: ServerConfig): Promise<{ mw: RequestHandler[]; close?: () => Promise<void> }> {
  switch (c.variant) {
    case 'bare':
      return { mw: [] };
    case 'noop':
      return { mw: [function noop(_req, _res, next) { next(); }] };
    case 'guard': {
      const { mcpAuth } = await import('../lib/index.js');
      const guard = mcpAuth({
        resource: c.audience,
        issuer: c.issuer,
        requiredScopes: [c.scope],
        ...(c.opaque
          ? { tokenFormat: 'opaque' as const, introspection: { url: c.introspectionUrl, clientId: 'bench-rs', clientSecret: 'bench-secret' } }
          : { jwksUri: c.jwksUri, algorithms: [c.alg] }),
        ...(c.cacheMaxEntries !== undefined ? { cacheMaxEntries: c.cacheMaxEntries } : {}),
        ...(c.listener ? { onEvent: countEvent } : {}),
        ...c.guardOptions,
      });
      await guard.ready();
      return { mw: [guard.protect()], close: () => guard.close() };
    }
    case 'ref': {
      const { minimalCacheMiddleware } = await import('./minimal-cache.js');
      return { mw: [minimalCacheMiddleware(await joseVerifier(c))] };
    }
    case 'auth0': {
      const { auth, requiredScopes } = await import('express-oauth2-jwt-bearer');
      return {
        mw: [
          auth({ issuer: c.issuer, jwksUri: c.jwksUri, audience: c.audience, tokenSigningAlg: c.alg }) as unknown as RequestHandler,
          requiredScopes(c.scope) as unknown as RequestHandler,
        ],
      };
    }
    case 'sdk': {
      const { requireBearerAuth } = await import('@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js');
      const verifyJwt = await joseVerifier(c);
      const verifier = {
        async verifyAccessToken(token: string) {
          const { payload } = await verifyJwt(token);
          const scope = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
          return { token, clientId: String(payload.client_id ?? ''), scopes: scope, expiresAt: payload.exp, extra: payload };
        },
      };
      return { mw: [requireBearerAuth({ verifier, requiredScopes: [c.scope] }) as unknown as RequestHandler] };
    }
  }
}

let authNs = 0n;
let authCalls = 0;
/** The chain `mw` as one middleware that adds the time from its entry to the last one's `next()` to `authNs`. */
function timed(mw: RequestHandler[]): RequestHandler {
  const chain: RequestHandler = mw.reduceRight<RequestHandler>((after, m) => (req, res, next) => m(req, res, (err?: unknown) => (err === undefined ? after(req, res, next) : next(err))), (_req, _res, next) => next());
  return function timedAuth(req, res, next) {
    const t0 = process.hrtime.bigint();
    chain(req, res, (err?: unknown) => {
      authNs += process.hrtime.bigint() - t0;
      authCalls++;
      next(err);
    });
  };
}

async function main(): Promise<void> {
  const c = JSON.parse(process.env.BENCH_SERVER_CONFIG ?? '{}') as ServerConfig;
  const auth = await authMiddleware(c);
  const { close } = auth;
  const mw = c.timeAuth && auth.mw.length > 0 ? [timed(auth.mw)] : auth.mw;
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json());
  app.post('/mcp', ...mw, (req, res) => {
    const id = (req.body as { id?: unknown } | undefined)?.id ?? null;
    res.json({ jsonrpc: '2.0', id, result: { tools: [] } });
  });
  const server = app.listen(0, '127.0.0.1', () => {
    process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
  });
  server.keepAliveTimeout = 60_000;
  process.on('message', (m: Msg) => {
    if (m.type === 'stats') {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (m.gc && gc) { gc(); gc(); }
      const mem = process.memoryUsage();
      const cpu = process.cpuUsage();
      process.send?.({ type: 'stats', rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, cpuMicros: cpu.user + cpu.system, cpuSystemMicros: cpu.system, authNs: Number(authNs), authCalls });
    }
  });
  const stop = (): void => {
    server.closeAllConnections();
    server.close();
    void close?.();
    process.exit(0);
  };
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.send?.({ type: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  process.exit(1);
});
