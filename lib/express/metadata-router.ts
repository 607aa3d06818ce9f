/**
 * `metadata()`: serves the RFC 9728 document at `/.well-known/oauth-protected-resource<path>` and
 * at the root form. CORS-open (`*`), GET/HEAD/OPTIONS only (others: 405 with `Allow`),
 * `Cache-Control: public, max-age=3600`. Never behind the guard. The body is serialized once.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ProtectedResourceMetadata } from '../metadata.js';

/**
 * The request's path from the application's root, without the query: `req.originalUrl`'s, so
 * that a mount path (`app.use('/.well-known/oauth-protected-resource/mcp', …)`, where Express
 * leaves `req.path` as `/`) or a router does not change what is compared with the well-known paths.
 */
export function rootPath(req: Request): string {
  const url = req.originalUrl ?? req.url;
  if (!url.startsWith('/')) {
    // An absolute-form request target (`GET http://host/path`, RFC 9112 §3.2.2): its path, as Express routes it.
    try {
      return new URL(url).pathname;
    } catch {
      return url;
    }
  }
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Build the named middleware serving `doc` at `paths`. */
export function metadataMiddleware(doc: ProtectedResourceMetadata, paths: readonly string[]): RequestHandler {
  const body = JSON.stringify(doc);
  const length = String(Buffer.byteLength(body));
  const served = new Set(paths);
  return function mcpAuthMetadata(req: Request, res: Response, next: NextFunction): void {
    if (!served.has(rootPath(req))) return next();
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS');
      const requested = req.headers['access-control-request-headers'];
      if (typeof requested === 'string') res.setHeader('Access-Control-Allow-Headers', requested);
      res.setHeader('Access-Control-Max-Age', '86400');
      res.status(204).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD, OPTIONS');
      res.status(405).end();
      return;
    }
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.setHeader('Content-Length', length);
    res.status(200).end(req.method === 'HEAD' ? undefined : body);
  };
}
