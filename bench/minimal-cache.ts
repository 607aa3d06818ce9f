/**
 * The benchmark's reference cache: the least any guard that caches does on a hit. One `Map` lookup
 * by the token string, `req.auth`, `next()`; `jose` on a miss. No size cap, grammar, expiry or
 * scope check, no bound (it serves one token). Used by `server.ts` (the `ref` row) and `micro.ts`.
 */
import type { RequestHandler } from 'express';
import type { JWTPayload } from 'jose';
import type { AuthInfo } from '../lib/types.js';

/** `verifyJwt`: the miss path (`jose.jwtVerify` with the caller's key and claim options). */
export function minimalCacheMiddleware(verifyJwt: (token: string) => Promise<{ payload: JWTPayload }>): RequestHandler {
  const cache = new Map<string, AuthInfo>();
  return function minimalCache(req, res, next) {
    const header = req.headers.authorization;
    const token = header !== undefined && header.startsWith('Bearer ') ? header.slice(7) : '';
    const hit = cache.get(token);
    if (hit !== undefined) {
      req.auth = hit;
      next();
      return;
    }
    verifyJwt(token).then(({ payload }) => {
      const info: AuthInfo = { token, clientId: String(payload.client_id ?? ''), scopes: String(payload.scope ?? '').split(' '), expiresAt: payload.exp };
      cache.set(token, info);
      req.auth = info;
      next();
    }, () => { res.status(401).end(); });
  };
}
