/**
 * A real `oidc-provider` (v9) on 127.0.0.1 for tests: client credentials with resource indicators
 * (RFC 8707), JWT access tokens (RFC 9068) for some resources and opaque ones for others, and
 * introspection for a confidential resource-server client. Tokens are minted with `getToken()`.
 * For the interactive flow (authorization code + PKCE, DCR) see examples/.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

export interface ResourceSpec {
  format: 'jwt' | 'opaque';
  scope: string;
}

export interface TestProvider {
  issuer: string;
  /** Client credentials token for `resource` with `scope` (space-separated). */
  getToken(resource: string, scope: string): Promise<string>;
  /** The provider's token endpoint (what a DPoP proof's `htu` names there). */
  tokenEndpoint: string;
  /**
   * The raw client credentials token response (status and JSON body), for requests `getToken()`
   * does not make: `dpop` is sent as the `DPoP` request header (RFC 9449 proof). oidc-provider 9
   * has `features.dPoP` on by default, so a proof binds the token to its key (`cnf.jkt`,
   * `token_type: "DPoP"`); without one the token is a plain Bearer token.
   */
  tokenResponse(resource: string, scope: string, opts?: { dpop?: string }): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Revoke a token issued by `getToken()` (RFC 7009, as the client it was issued to). */
  revoke(token: string): Promise<void>;
  /** The confidential resource-server client allowed to introspect. */
  introspectionClient: { clientId: string; clientSecret: string };
  close(): Promise<void>;
}

const CC_CLIENT = { client_id: 'test-cc-client', client_secret: 'test-cc-secret-0123456789' };
const RS_CLIENT = { client_id: 'test-rs-client', client_secret: 'test-rs-secret-0123456789' };

/** Start the provider. `resources` maps resource indicators to their token format and scopes. */
export async function startTestProvider(resources: Record<string, ResourceSpec>): Promise<TestProvider> {
  const sockets = new Set<Socket>();
  const server: Server = createServer();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signing = { ...(await exportJWK(privateKey)), kid: 'test-provider-rs256', alg: 'RS256', use: 'sig' };
  const allScopes = new Set<string>();
  for (const r of Object.values(resources)) for (const s of r.scope.split(' ')) allScopes.add(s);

  const provider = new Provider(issuer, {
    clients: [
      { ...CC_CLIENT, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: [...allScopes].join(' ') },
      { ...RS_CLIENT, grant_types: [], response_types: [], redirect_uris: [] },
    ],
    jwks: { keys: [signing] },
    ttl: { ClientCredentials: 600, AccessToken: 600 },
    scopes: [...allScopes],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Only the resource-server client may introspect (also silences the "SHOULD change" notice).
      introspection: { enabled: true, allowedPolicy: async (_ctx: unknown, client: { clientId: string }) => client.clientId === RS_CLIENT.client_id },
      revocation: { enabled: true, allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) => token.clientId === client.clientId },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          const spec = resources[indicator];
          if (!spec) throw new errors.InvalidTarget();
          return spec.format === 'jwt'
            ? { scope: spec.scope, audience: indicator, accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }
            : { scope: spec.scope, audience: indicator, accessTokenTTL: 600, accessTokenFormat: 'opaque' };
        },
      },
    },
  } as ConstructorParameters<typeof Provider>[1]);
  server.on('request', provider.callback());

  const tokenEndpoint = `${issuer}/token`;
  /** A form POST as the client credentials client (client_secret_basic). */
  const asClient = (url: string, form: Record<string, string>, extra: Record<string, string> = {}) => fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${CC_CLIENT.client_id}:${CC_CLIENT.client_secret}`).toString('base64')}`,
      ...extra,
    },
    body: new URLSearchParams(form),
  });
  const tokenResponse: TestProvider['tokenResponse'] = async (resource, scope, opts = {}) => {
    const res = await asClient(tokenEndpoint, { grant_type: 'client_credentials', resource, scope }, opts.dpop === undefined ? {} : { dpop: opts.dpop });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  return {
    issuer,
    introspectionClient: { clientId: RS_CLIENT.client_id, clientSecret: RS_CLIENT.client_secret },
    tokenEndpoint,
    tokenResponse,
    async getToken(resource, scope) {
      const { status, body } = await tokenResponse(resource, scope);
      if (status !== 200 || typeof body.access_token !== 'string') throw new Error(`token request failed: ${status} ${String(body.error ?? '')}`);
      return body.access_token;
    },
    async revoke(token) {
      const res = await asClient(`${issuer}/token/revocation`, { token, token_type_hint: 'access_token' });
      if (!res.ok) throw new Error(`revocation failed: ${res.status}`);
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
