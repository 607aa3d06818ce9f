/**
 * DEVELOPMENT-ONLY OAuth 2.1 authorization server for the demo, built on `oidc-provider` v9.
 *
 *   NEVER USE THIS IN PRODUCTION: it signs every visitor in as the same demo user, grants every
 *   requested scope without asking, keeps everything in memory, and runs on plain http.
 *
 * What it does, as a real authorization server would for MCP:
 * - authorization code flow with PKCE required (S256 only), open dynamic client registration;
 * - refresh tokens (no `offline_access` needed: see `issueRefreshToken`) rotated on every use;
 *   a replayed refresh token is refused and revokes the whole grant (oidc-provider's reuse rule);
 * - RFC 8707 resource indicators: each resource registered with {@link DemoAuthorizationServer.addResource}
 *   gets access tokens whose audience is exactly that indicator, either RFC 9068 JWTs
 *   (`typ: at+jwt`, verified by the MCP server through the JWKS) or opaque tokens (verified by
 *   RFC 7662 introspection; oidc-provider cannot introspect its JWT access tokens);
 * - introspection for one confidential resource-server client (`mcp-resource-server`);
 * - a headless login + consent interaction (`/interaction/:uid`): no pages, it finishes login as
 *   the demo user and consents to what was asked, through `interactionFinished` and a `Grant`.
 *
 * Facts this file encodes: resource scopes must also be listed in `scopes`, or dynamic
 * registration of a client asking for them fails; resource indicators are compared as exact
 * strings (no trailing slash is added or removed).
 *
 * Run alone: `npx tsx examples/authorization-server.ts` (port from AS_PORT, default 4000; it
 * registers http://127.0.0.1:3000/mcp as a JWT resource so the MCP server can be started next).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

/** The one account every authorization is granted to. */
export const DEMO_USER = 'demo-user';
/** Client id of the confidential resource-server client allowed to introspect. */
export const INTROSPECTION_CLIENT_ID = 'mcp-resource-server';
/** Scopes of the notes service (the MCP server's tools). */
export const NOTES_SCOPES = ['notes:read', 'notes:write'] as const;

/** How a resource's access tokens look. */
export type TokenFormat = 'jwt' | 'opaque';

/** A resource server the authorization server issues tokens for. */
export interface ResourceInfo {
  /** Scopes the resource accepts (space-separated in the token). Default: {@link NOTES_SCOPES}. */
  scopes?: readonly string[];
  /** `'jwt'` (RFC 9068, default) or `'opaque'` (introspection). */
  format?: TokenFormat;
  /** Access token lifetime in seconds. Default 600. */
  accessTokenTtlSeconds?: number;
}

/** Options of {@link startAuthorizationServer}. */
export interface AuthorizationServerOptions {
  /** Port on 127.0.0.1. Default 0 (any free port). */
  port?: number;
  /** Resources known from the start (indicator → info); more can be added with `addResource`. */
  resources?: Readonly<Record<string, ResourceInfo>>;
  /** Secret of the introspection client. Default: random per start. */
  introspectionSecret?: string;
}

/** A running development authorization server. */
export interface DemoAuthorizationServer {
  /** Issuer identifier, e.g. `http://127.0.0.1:4000` (no trailing slash). */
  issuer: string;
  /** Credentials of the resource-server client allowed to introspect. */
  introspectionClient: { clientId: string; clientSecret: string };
  /** Issue tokens for one more resource indicator (exact string). */
  addResource(indicator: string, info?: ResourceInfo): void;
  close(): Promise<void>;
}

/**
 * Start the development authorization server on 127.0.0.1.
 * @example const as = await startAuthorizationServer({ resources: { 'http://127.0.0.1:3000/mcp': {} } });
 */
export async function startAuthorizationServer(options: AuthorizationServerOptions = {}): Promise<DemoAuthorizationServer> {
  const resources = new Map<string, Required<ResourceInfo>>();
  const addResource = (indicator: string, info: ResourceInfo = {}): void => {
    resources.set(indicator, {
      scopes: info.scopes ?? NOTES_SCOPES,
      format: info.format ?? 'jwt',
      accessTokenTtlSeconds: info.accessTokenTtlSeconds ?? 600,
    });
  };
  for (const [indicator, info] of Object.entries(options.resources ?? {})) addResource(indicator, info);

  // Listen first: the issuer contains the port.
  const sockets = new Set<Socket>();
  const server: Server = createServer();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  // A new key per start gets a new kid: a guard still running from before fetches the new key set
  // on the unknown kid at once, instead of checking new tokens against the old key under the same kid.
  const signingKey = { ...(await exportJWK(privateKey)), kid: `demo-rs256-${randomBytes(6).toString('base64url')}`, alg: 'RS256', use: 'sig' };
  const introspectionSecret = options.introspectionSecret ?? randomBytes(24).toString('base64url');
  const allScopes = new Set<string>(NOTES_SCOPES);
  // Every resource's scopes must be provider scopes too, or registering a client that asks for them fails.
  for (const r of resources.values()) for (const s of r.scopes) allScopes.add(s);

  const provider = new Provider(issuer, {
    clients: [{
      client_id: INTROSPECTION_CLIENT_ID,
      client_secret: introspectionSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    }],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', ...allScopes],
    claims: { openid: ['sub'] },
    findAccount: (_ctx: unknown, id: string) => (id === DEMO_USER
      ? { accountId: id, claims: () => ({ sub: id }) }
      : undefined),
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      introspection: {
        enabled: true,
        // Only the confidential resource-server client may introspect.
        allowedPolicy: (_ctx, client) => client.clientId === INTROSPECTION_CLIENT_ID,
      },
      resourceIndicators: {
        enabled: true,
        // No `resource` parameter: the first registered resource (the MCP server).
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? resources.keys().next().value,
        // A token request without `resource` uses the one granted at authorization.
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          const r = resources.get(indicator); // exact string comparison
          if (!r) throw new errors.InvalidTarget();
          return {
            scope: r.scopes.join(' '),
            audience: indicator,
            accessTokenTTL: r.accessTokenTtlSeconds,
            accessTokenFormat: r.format,
            ...(r.format === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
          };
        },
      },
    },
    pkce: { required: () => true }, // oidc-provider v9 supports S256 only
    // Refresh tokens for every client allowed the grant, without `offline_access`.
    issueRefreshToken: (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    clientBasedCORS: (_ctx, origin, client) =>
      origin !== 'null' && (client.redirectUris ?? []).some((uri) => URL.canParse(uri) && new URL(uri).origin === origin),
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    ttl: { AccessToken: 600, AuthorizationCode: 60, RefreshToken: 86400, IdToken: 600, Interaction: 600, Session: 3600, Grant: 86400 },
    renderError: (ctx, out) => {
      ctx.type = 'application/json';
      ctx.body = out;
    },
  });

  const providerHandler = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && /^\/interaction\/[^/]+$/.test(req.url?.split('?')[0] ?? '')) {
      headlessInteraction(provider, req, res).catch((err: unknown) => {
        console.error(`demo authorization server: interaction failed: ${err instanceof Error ? err.message : String(err)}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"server_error"}');
      });
      return;
    }
    providerHandler(req, res);
  });

  return {
    issuer,
    introspectionClient: { clientId: INTROSPECTION_CLIENT_ID, clientSecret: introspectionSecret },
    addResource(indicator, info) {
      for (const s of info?.scopes ?? []) {
        if (!allScopes.has(s)) throw new Error(`scope "${s}" is not a provider scope; pass it in the resources of startAuthorizationServer`);
      }
      addResource(indicator, info);
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}

/**
 * The headless interaction: login as {@link DEMO_USER}, then consent to every missing scope,
 * claim and resource scope of the request. A real server shows login and consent pages here.
 */
async function headlessInteraction(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: DEMO_USER } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined)
      ?? new provider.Grant({ accountId: session?.accountId ?? DEMO_USER, clientId: String(params.client_id) });
    const d = prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  res.writeHead(400, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: 'unsupported_prompt', prompt: prompt.name }));
}

// Run alone: AS_PORT (default 4000), MCP_RESOURCE (default http://127.0.0.1:3000/mcp),
// AS_INTROSPECTION_SECRET (default: a fixed development secret).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.AS_PORT ?? 4000);
  const mcp = process.env.MCP_RESOURCE ?? 'http://127.0.0.1:3000/mcp';
  const introspectionSecret = process.env.AS_INTROSPECTION_SECRET ?? 'dev-only-introspection-secret';
  const as = await startAuthorizationServer({ port, resources: { [mcp]: { format: 'jwt' } }, introspectionSecret });
  console.log(`development authorization server (never for production): ${as.issuer}`);
  console.log(`  issues JWT access tokens for ${mcp}; demo user "${DEMO_USER}" signs in without a page`);
  console.log(`  introspection client: ${as.introspectionClient.clientId} (secret from AS_INTROSPECTION_SECRET)`);
}
