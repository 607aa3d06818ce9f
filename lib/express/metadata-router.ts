/**
 * `metadata()`: serves the RFC 9728 document at `/.well-known/oauth-protected-resource<path>` and
 * at the root form. CORS-open (`*`), GET/HEAD/OPTIONS only (others: 405 with `Allow`),
 * `Cache-Control: public, max-age=3600`. Never behind the guard. The body is serialized once, and
 * the same responder answers the metadata requests an app-wide `protect()` sees.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ProtectedResourceMetadata } from '../metadata.js';

/**
 * The path Express routes this request by, from the application's root: `req.baseUrl + req.path`
 * (`req.path` is the raw pathname, absolute-form targets included, dot segments not folded). Mounted
 * at a well-known path itself (`app.use('/.well-known/oauth-protected-resource/mcp', …)`), Express
 * leaves `req.path` as `/`: then the mount path alone. Only for serving the document: `protect()`'s
 * pass-through compares `req.baseUrl + req.path` exactly, so it never lets through a request
 * Express would route anywhere but to a metadata path.
 */
function routedPath(req: Request): string {
  if (req.path !== '/' || req.baseUrl === '') return req.baseUrl + req.path;
  // Express drops a mount path's trailing slash from req.baseUrl: a resource ending in `/` has a
  // metadata path ending in `/`, read from the request's own path.
  const q = req.originalUrl.indexOf('?');
  const original = q === -1 ? req.originalUrl : req.originalUrl.slice(0, q);
  return original.endsWith('/') ? `${req.baseUrl}/` : req.baseUrl;
}

/** Answer a request for the document (GET/HEAD with it, OPTIONS as a CORS preflight, else 405). */
export function metadataResponder(doc: ProtectedResourceMetadata): (req: Request, res: Response) => void {
  const body = JSON.stringify(doc);
  const length = String(Buffer.byteLength(body));
  return function sendMetadata(req: Request, res: Response): void {
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

/** Build the named middleware serving `send`'s document at `paths`. */
export function metadataMiddleware(send: (req: Request, res: Response) => void, paths: readonly string[]): RequestHandler {
  const served = new Set(paths);
  return function mcpAuthMetadata(req: Request, res: Response, next: NextFunction): void {
    if (!served.has(routedPath(req))) return next();
    send(req, res);
  };
}
