/**
 * The benchmark's loopback authorization server (127.0.0.1, port 0): RFC 8414 metadata, a JWKS
 * and an RFC 7662 introspection endpoint that answers `active: true` for the opaque tokens it
 * issued. It counts its requests, so the report can show that caches did their work.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ServerConfig } from './server.js';
import type { TokenClaims } from './tokens.js';

/** The resource every benchmark token is for, and the scope each carries (and each app requires). */
const AUDIENCE = 'https://mcp.bench.example/mcp';
const SCOPE = 'mcp';
const LIFETIME_SECONDS = 3600;

export interface BenchAS {
  issuer: string;
  jwksUri: string;
  introspectionUrl: string;
  /** What every benchmark token carries (`mintTokens`). */
  claims: TokenClaims;
  /** The fields of `ServerConfig` every app server shares. */
  serverBase: Pick<ServerConfig, 'issuer' | 'jwksUri' | 'introspectionUrl' | 'audience' | 'scope'>;
  counts: { jwks: number; introspection: number; other: number };
  close(): Promise<void>;
}

export interface AsSettings {
  keys: Record<string, unknown>[];
  /** Opaque tokens the introspection endpoint calls active. */
  opaqueTokens: ReadonlySet<string>;
}

export async function startBenchAS(s: AsSettings): Promise<BenchAS> {
  const sockets = new Set<Socket>();
  const counts = { jwks: 0, introspection: 0, other: 0 };
  let issuer = '';
  const send = (res: import('node:http').ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/.well-known/oauth-authorization-server' || path === '/.well-known/openid-configuration') {
      return send(res, 200, {
        issuer,
        jwks_uri: `${issuer}/jwks`,
        introspection_endpoint: `${issuer}/introspect`,
        token_endpoint: `${issuer}/token`,
        authorization_endpoint: `${issuer}/authorize`,
        response_types_supported: ['code'],
      });
    }
    if (path === '/jwks') {
      counts.jwks++;
      return send(res, 200, { keys: s.keys });
    }
    if (path === '/introspect' && req.method === 'POST') {
      counts.introspection++;
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { if (raw.length < 65536) raw += c; });
      req.on('end', () => {
        const token = new URLSearchParams(raw).get('token');
        if (token === null || !s.opaqueTokens.has(token)) return send(res, 200, { active: false });
        const now = Math.floor(Date.now() / 1000);
        send(res, 200, {
          active: true, iss: issuer, aud: AUDIENCE, scope: SCOPE, client_id: 'bench-client',
          sub: 'user-1', token_type: 'Bearer', iat: now, exp: now + LIFETIME_SECONDS,
        });
      });
      return;
    }
    counts.other++;
    send(res, 404, { error: 'not_found' });
  });
  server.on('connection', (sock) => { sockets.add(sock); sock.on('close', () => sockets.delete(sock)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const jwksUri = `${issuer}/jwks`;
  const introspectionUrl = `${issuer}/introspect`;
  return {
    issuer,
    jwksUri,
    introspectionUrl,
    claims: { issuer, audience: AUDIENCE, scope: SCOPE, lifetimeSeconds: LIFETIME_SECONDS },
    serverBase: { issuer, jwksUri, introspectionUrl, audience: AUDIENCE, scope: SCOPE },
    counts,
    close: () => new Promise<void>((resolve) => {
      for (const sock of sockets) sock.destroy();
      server.close(() => resolve());
    }),
  };
}
