/**
 * A DPoP test suite's scaffolding: a loopback authorization server (JWKS) with an RS256 key, a
 * client DPoP key, the guard's fake clock, and `serve()`: one guard on its own 127.0.0.1 port,
 * whose `resource` is that URL + `/mcp` (so a proof's `htu` is the URL the request went to) unless
 * the options name another.
 * Call `dpopSuite()` at a test file's top level: it registers its own `beforeAll`/`afterAll`.
 */
import express, { type Express, type RequestHandler } from 'express';
import { mcpAuth, type GuardEvent, type McpAuthGuard, type Options } from '../../lib/index.js';
import { fakeClock, type FakeClock } from './clock.js';
import { buildProof, makeDpopKey, type DpopKey, type ProofOptions } from './dpop.js';
import { listen, type Listening } from './http.js';
import { makeKey, type TestKey } from './keys.js';
import { startLoopbackAS, type LoopbackAS } from './loopback-as.js';
import { tokenBuilder } from './tokens.js';

export interface DpopServed {
  url: string;
  resource: string;
  metadataUrl: string;
  guard: McpAuthGuard;
  /** Every event the guard emitted. */
  events: GuardEvent[];
  /** How many times the handler ran. */
  calls: () => number;
  /** A token for this resource (audience), minted at the fake clock's time. */
  sign: (claims?: Record<string, unknown>) => Promise<string>;
  /** A token bound to `key` (default the suite's DPoP key). */
  bound: (key?: DpopKey, claims?: Record<string, unknown>) => Promise<string>;
  /** A valid proof for `POST /mcp` here, made with the suite's key at the clock's time, unless overridden. */
  proof: (token: string | undefined, over?: Partial<ProofOptions>) => Promise<string>;
}

export interface DpopSuite {
  clock: FakeClock;
  /** The loopback authorization server (its JWKS holds `asKey`'s public key). */
  as: () => LoopbackAS;
  /** The authorization server's signing key (RS256). */
  asKey: () => TestKey;
  /** The client's DPoP key (ES256). */
  key: () => DpopKey;
  /** Serve a guard with `options` (on top of resource, issuer, jwksUri, clock, onEvent); `routes` mounts it (default `POST /mcp`, JSON body). */
  serve: (options: Partial<Options>, routes?: (app: Express, guard: McpAuthGuard, handler: RequestHandler) => void) => Promise<DpopServed>;
}

export function dpopSuite(): DpopSuite {
  const clock = fakeClock(Math.floor(Date.now() / 1000) * 1000);
  const now = (): number => clock.seconds();
  let as: LoopbackAS;
  let asKey: TestKey;
  let dk: DpopKey;
  const lives: Listening[] = [];
  const guards: McpAuthGuard[] = [];

  beforeAll(async () => {
    as = await startLoopbackAS();
    asKey = await makeKey('RS256');
    as.keys = [asKey.publicJwk];
    dk = await makeDpopKey('ES256');
  });
  afterAll(async () => {
    await Promise.all(guards.map((g) => g.close()));
    await Promise.all(lives.map((l) => l.close()));
    await as.close();
  });

  async function serve(options: Partial<Options>, routes = (app: Express, guard: McpAuthGuard, handler: RequestHandler): void => { app.post('/mcp', guard.protect(), handler); }): Promise<DpopServed> {
    let app: Express | undefined;
    const live = await listen((req, res) => app!(req, res));
    lives.push(live);
    const resource = options.resource ?? `${live.url}/mcp`;
    const events: GuardEvent[] = [];
    const guard = mcpAuth({ resource, issuer: as.issuer, jwksUri: as.jwksUri, clock, onEvent: (e) => { events.push(e); }, ...options });
    guards.push(guard);
    let calls = 0;
    const handler: RequestHandler = (_req, res) => { calls++; res.json({ jsonrpc: '2.0', id: 1, result: {} }); };
    app = express();
    app.use(express.json());
    routes(app, guard, handler);
    const sign = tokenBuilder({ issuer: as.issuer, audience: resource, nowSeconds: now });
    return {
      url: live.url,
      resource,
      metadataUrl: guard.config.resourceMetadataUrl,
      guard,
      events,
      calls: () => calls,
      sign: (claims = {}) => sign(asKey, claims),
      bound: (key = dk, claims = {}) => sign(asKey, { cnf: { jkt: key.thumbprint }, ...claims }),
      proof: (token, over = {}) => buildProof({ key: dk, htm: 'POST', htu: resource, nowSeconds: now(), ...(token !== undefined ? { accessToken: token } : {}), ...over }),
    };
  }

  return { clock, as: () => as, asKey: () => asKey, key: () => dk, serve };
}
