/**
 * The OAuth side of the demo client: an in-memory `OAuthClientProvider` for
 * `@modelcontextprotocol/sdk` whose browser step is headless.
 *
 * `followAuthorization` plays the user agent: it follows the authorization server's redirects with
 * a small cookie jar until the redirect URI and takes the `code` (or `error`) from it, which is
 * what a real client's callback page would receive. It works because the demo authorization server
 * signs its demo user in and consents without showing a page; against a real server a person
 * would do this step in a browser.
 */
import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

/** What the browser step ended with. */
export interface AuthorizationOutcome {
  code?: string;
  error?: string;
  hops: number;
}

/**
 * A headless user agent: follows redirects from `url` with a cookie jar (path-scoped, per host)
 * until a redirect to `redirectUri`, and returns its `code` or `error`.
 */
export async function followAuthorization(url: URL, redirectUri: string, maxHops = 12): Promise<AuthorizationOutcome> {
  const jar = new Map<string, { value: string; path: string; host: string }>();
  let current = url;
  for (let hops = 0; hops < maxHops; hops++) {
    const cookie = [...jar.entries()]
      .filter(([, c]) => c.host === current.host && current.pathname.startsWith(c.path))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
    const res = await fetch(current, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const path = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const expired = attrs.some((a) => /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(a));
      if (expired) jar.delete(name);
      else jar.set(name, { value: pair.slice(eq + 1), path, host: current.host });
    }
    const location = res.headers.get('location');
    await res.body?.cancel();
    if (res.status < 300 || res.status >= 400 || location === null) {
      return { error: `http_${res.status}`, hops };
    }
    const next = new URL(location, current);
    if (next.href.startsWith(redirectUri)) {
      const code = next.searchParams.get('code');
      const error = next.searchParams.get('error');
      return { ...(code ? { code } : {}), ...(error ? { error } : {}), hops: hops + 1 };
    }
    current = next;
  }
  return { error: 'too_many_redirects', hops: maxHops };
}

/**
 * An in-memory `OAuthClientProvider` for one MCP server: dynamic registration, PKCE verifier,
 * tokens and discovery state in memory, and a headless browser step.
 */
export class DemoOAuthProvider implements OAuthClientProvider {
  #client: OAuthClientInformationMixed | undefined;
  #tokens: OAuthTokens | undefined;
  #verifier = '';
  #discovery: OAuthDiscoveryState | undefined;
  /** Result of the last browser step. */
  lastAuthorization: AuthorizationOutcome | undefined;

  constructor(
    private readonly redirectUri: string,
    private readonly onAuthorization: (url: URL) => Promise<AuthorizationOutcome> = (url) => followAuthorization(url, redirectUri),
  ) {}

  get redirectUrl(): string {
    return this.redirectUri;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'mcp-oauth-guard demo client',
      redirect_uris: [this.redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.#client;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.#client = info;
  }

  tokens(): OAuthTokens | undefined {
    return this.#tokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.#tokens = tokens;
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    this.lastAuthorization = await this.onAuthorization(url);
  }

  saveCodeVerifier(verifier: string): void {
    this.#verifier = verifier;
  }

  codeVerifier(): string {
    return this.#verifier;
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.#discovery = state;
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.#discovery;
  }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    if (scope === 'all' || scope === 'client') this.#client = undefined;
    if (scope === 'all' || scope === 'tokens') this.#tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this.#verifier = '';
    if (scope === 'all' || scope === 'discovery') this.#discovery = undefined;
  }

  /** The authorization code of the last browser step (once). */
  takeCode(): string {
    const code = this.lastAuthorization?.code;
    if (!code) throw new Error(`no authorization code (${this.lastAuthorization?.error ?? 'no browser step ran'})`);
    this.lastAuthorization = undefined;
    return code;
  }
}
