/**
 * A loopback authorization server the test controls: RFC 8414 metadata, a JWKS, an introspection
 * endpoint. It counts requests per path and can be told to fail, hang or answer garbage.
 * Binds 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { JWK } from 'jose';

export type Fault = 'ok' | '500' | 'html' | 'hang' | 'reset' | 'empty' | 'not-json' | '404' | 'huge';

export interface IntrospectionRequest {
  token: string | null;
  body: URLSearchParams;
  authorization: string | undefined;
}

/** What the introspection endpoint sends: a string body is sent as is (`text/html` unless `headers` say otherwise). */
export interface IntrospectionAnswer {
  status?: number;
  headers?: Record<string, string>;
  body: unknown;
}

export interface LoopbackAS {
  issuer: string;
  url: string;
  jwksUri: string;
  introspectionUrl: string;
  counts: { discovery: number; oidcDiscovery: number; jwks: number; introspection: number; other: number };
  /** Every request path seen, in order. */
  log: string[];
  /** Every request as text: request line, raw headers and body (to check what the guard sends out). */
  wire: string[];
  keys: JWK[];
  faults: { discovery: Fault; jwks: Fault; introspection: Fault };
  /** Metadata overrides (e.g. a different `issuer`). */
  metadata: Record<string, unknown>;
  /** Answer of the introspection endpoint (or a promise of it, to hold the answer back); default: inactive. */
  introspect: (req: IntrospectionRequest) => IntrospectionAnswer | Promise<IntrospectionAnswer>;
  introspectionRequests: IntrospectionRequest[];
  resetCounts(): void;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/html' : 'application/json', ...headers });
  res.end(text);
}

function applyFault(fault: Fault, req: IncomingMessage, res: ServerResponse, ok: () => void): void {
  switch (fault) {
    case 'ok': return ok();
    case '500': return send(res, 500, { error: 'server_error' });
    case '404': return send(res, 404, { error: 'not_found' });
    case 'html': return send(res, 200, '<html><body>Sign in</body></html>');
    case 'not-json': res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"keys": [ '); return;
    case 'empty': return send(res, 200, { keys: [] });
    case 'huge': res.writeHead(200, { 'content-type': 'application/json' }); res.end(`{"keys":[],"pad":"${'x'.repeat(2_000_000)}"}`); return;
    case 'reset': req.socket.destroy(); return;
    case 'hang': return; // never answers; closed by close()
  }
}

/** Start the server on 127.0.0.1:0. */
export async function startLoopbackAS(opts: { path?: string } = {}): Promise<LoopbackAS> {
  const sockets = new Set<Socket>();
  const state = {} as LoopbackAS;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', state.url);
    state.log.push(`${req.method} ${url.pathname}`);
    const head = `${req.method} ${req.url}\n${req.rawHeaders.join('\n')}\n\n`;
    const entry = state.wire.push(head) - 1;
    req.on('data', (c: Buffer | string) => { state.wire[entry] += String(c); });
    const path = url.pathname;
    if (path.startsWith('/.well-known/oauth-authorization-server')) {
      state.counts.discovery++;
      return applyFault(state.faults.discovery, req, res, () => send(res, 200, metadata()));
    }
    if (path.endsWith('/.well-known/openid-configuration')) {
      state.counts.oidcDiscovery++;
      return applyFault(state.faults.discovery, req, res, () => send(res, 200, metadata()));
    }
    if (path === '/jwks') {
      state.counts.jwks++;
      return applyFault(state.faults.jwks, req, res, () => send(res, 200, { keys: state.keys }));
    }
    if (path === '/introspect' && req.method === 'POST') {
      state.counts.introspection++;
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { raw += c; });
      req.on('end', () => {
        const body = new URLSearchParams(raw);
        const ir: IntrospectionRequest = { token: body.get('token'), body, authorization: req.headers.authorization };
        state.introspectionRequests.push(ir);
        applyFault(state.faults.introspection, req, res, () => {
          void Promise.resolve(state.introspect(ir)).then(
            (answer) => send(res, answer.status ?? 200, answer.body, answer.headers),
            () => send(res, 500, { error: 'server_error' }),
          );
        });
      });
      return;
    }
    state.counts.other++;
    send(res, 404, { error: 'not_found' });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const issuer = url + (opts.path ?? '');
  function metadata(): Record<string, unknown> {
    return {
      issuer,
      jwks_uri: `${url}/jwks`,
      introspection_endpoint: `${url}/introspect`,
      token_endpoint: `${url}/token`,
      authorization_endpoint: `${url}/authorize`,
      response_types_supported: ['code'],
      ...state.metadata,
    };
  }
  Object.assign(state, {
    issuer,
    url,
    jwksUri: `${url}/jwks`,
    introspectionUrl: `${url}/introspect`,
    counts: { discovery: 0, oidcDiscovery: 0, jwks: 0, introspection: 0, other: 0 },
    log: [],
    wire: [],
    keys: [],
    faults: { discovery: 'ok', jwks: 'ok', introspection: 'ok' },
    metadata: {},
    introspect: () => ({ body: { active: false } }),
    introspectionRequests: [],
    resetCounts() {
      state.counts = { discovery: 0, oidcDiscovery: 0, jwks: 0, introspection: 0, other: 0 };
      state.log = [];
      state.wire = [];
      state.introspectionRequests = [];
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  } satisfies Partial<LoopbackAS>);
  return state;
}
