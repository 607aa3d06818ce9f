/**
 * The client walkthrough: the official MCP SDK client (`Client`, `StreamableHTTPClientTransport`,
 * `auth()`) against the protected MCP server, printing each OAuth step as it happens, one line
 * each. Token values are never printed: only what a token says (audience, scope, lifetime).
 *
 * The browser step is headless: `redirectToAuthorization` follows the authorization server's
 * redirects with a cookie jar until the redirect URI (the demo authorization server signs the demo
 * user in and consents by itself), and the code goes to `transport.finishAuth(code)`, on the
 * transport that got the 401, as a real client does after its callback page.
 *
 * Step-up: `@modelcontextprotocol/sdk` 1.32 starts a step-up on `403 insufficient_scope` but does
 * not finish it in-band (holding a refresh token, it refreshes, which cannot widen the scope; then
 * it gives up with a 403). The walkthrough finishes it the way a client must: a new authorization
 * with the challenged `scope` through the SDK's own `auth()`, registering again when the
 * authorization server refuses a scope wider than the one the client registered with, then retries.
 *
 * Run alone: `npx tsx examples/client.ts http://127.0.0.1:3000/mcp`
 */
import { pathToFileURL } from 'node:url';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth, refreshAuthorization, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { InvalidGrantError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { DemoOAuthProvider, followAuthorization } from './oauth-client-provider.js';

/** Stable names of the walkthrough's steps (a step may occur more than once, e.g. `registration`). */
export type StepName =
  | 'challenge' | 'resource_metadata' | 'as_metadata' | 'registration' | 'authorization' | 'token'
  | 'connect' | 'list_tools' | 'allowed_call' | 'insufficient_scope' | 'sdk_step_up' | 'step_up' | 'step_up_call'
  | 'refresh' | 'replay_refused' | 'reuse_detected';

/** Outcome of one step. */
export interface StepResult {
  step: StepName;
  ok: boolean;
  detail: string;
  /** Structured facts for tests (scopes, statuses, names). Never a token. */
  data: Record<string, unknown>;
}

/** Result of {@link runWalkthrough}. */
export interface WalkthroughResult {
  /** True when every step succeeded. */
  ok: boolean;
  steps: StepResult[];
  /** The first result of a step, if it ran. */
  get(step: StepName): StepResult | undefined;
  /** The OAuth client state (tokens included, for tests; never printed). */
  provider: DemoOAuthProvider;
}

/** Options of {@link runWalkthrough}. */
export interface WalkthroughOptions {
  /** The MCP endpoint. */
  mcpUrl: string;
  /** Receives each printed line. Default `console.log`. */
  log?: (line: string) => void;
  /** Redirect URI registered by the client; nothing listens there (the code is taken from the redirect). */
  redirectUrl?: string;
  /** Run the step-up part (add_note needs notes:write). Default true. */
  stepUp?: boolean;
}


/** What an access token says, without its value. */
export function describeToken(token: string): string {
  try {
    const header = decodeProtectedHeader(token);
    const claims = decodeJwt(token);
    const aud = Array.isArray(claims.aud) ? claims.aud.join(',') : claims.aud;
    return `JWT typ=${String(header.typ)} aud=${aud} scope="${String(claims.scope ?? '')}"`;
  } catch {
    return `opaque access token (${token.length} chars, checked by introspection)`;
  }
}

/** One observed HTTP exchange of the SDK. */
interface Exchange {
  method: string;
  url: URL;
  status: number;
  requestBody: string;
  response: Response;
}

/** A `fetch` that reports every exchange (the response is cloned before it is read). */
function tracingFetch(observe: (ex: Exchange) => Promise<void>): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const requestBody = init?.body === undefined || init.body === null ? '' : String(init.body);
    const response = await fetch(request);
    const url = new URL(request.url);
    await observe({ method: request.method, url, status: response.status, requestBody, response });
    return response;
  };
}

function challengeParams(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!.replace(/\\(.)/g, '$1');
  return out;
}

/**
 * Run the whole flow once against `mcpUrl` and print it.
 * @returns per-step outcomes; `ok` only when every step succeeded.
 */
export async function runWalkthrough(options: WalkthroughOptions): Promise<WalkthroughResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const redirectUrl = options.redirectUrl ?? 'http://127.0.0.1:8976/callback';
  const mcpUrl = options.mcpUrl;
  const steps: StepResult[] = [];
  let n = 0;
  const record = (step: StepName, ok: boolean, detail: string, data: Record<string, unknown> = {}): void => {
    steps.push({ step, ok, detail, data });
    log(`${String(++n).padStart(2)}. ${ok ? '✓' : '✗'} ${detail}`);
  };
  const note = (line: string): void => log(`      ${line}`);

  let asMeta: { registration_endpoint?: string; token_endpoint?: string } = {};
  let lastInsufficient: Record<string, string> | undefined;
  let sawChallenge = false;

  const observe = async (ex: Exchange): Promise<void> => {
    const path = ex.url.pathname;
    if (ex.url.href === mcpUrl && ex.method === 'POST') {
      const params = challengeParams(ex.response.headers.get('www-authenticate'));
      if (ex.status === 401 && !sawChallenge) {
        sawChallenge = true;
        record('challenge', params.resource_metadata !== undefined && params.error === undefined,
          `POST ${path} without a token → 401, challenge: scope="${params.scope ?? ''}" resource_metadata=${params.resource_metadata ?? '(none)'}`,
          { status: 401, ...params });
      } else if (ex.status === 403 && lastInsufficient !== undefined) {
        note(`POST ${path} → 403 again, scope="${params.scope ?? ''}"`);
      } else if (ex.status === 403) {
        lastInsufficient = params;
        record('insufficient_scope', params.error === 'insufficient_scope' && params.scope !== undefined,
          `POST ${path} → 403 ${params.error ?? ''}, challenge asks for scope="${params.scope ?? ''}"`, { status: 403, ...params });
      }
      return;
    }
    if (path.startsWith('/.well-known/oauth-protected-resource')) {
      if (ex.status !== 200) return;
      const doc = await ex.response.clone().json() as Record<string, unknown>;
      record('resource_metadata', doc.resource === mcpUrl,
        `protected resource metadata (RFC 9728) GET ${path} → resource=${String(doc.resource)} authorization_servers=${JSON.stringify(doc.authorization_servers)} scopes_supported="${(doc.scopes_supported as string[] | undefined)?.join(' ') ?? ''}"`,
        { ...doc });
      return;
    }
    if (path.includes('/.well-known/oauth-authorization-server') || path.includes('/.well-known/openid-configuration')) {
      if (ex.status !== 200) return;
      const doc = await ex.response.clone().json() as Record<string, unknown>;
      asMeta = doc as typeof asMeta;
      const pkce = (doc.code_challenge_methods_supported as string[] | undefined) ?? [];
      record('as_metadata', pkce.includes('S256') && typeof doc.registration_endpoint === 'string',
        `authorization server metadata GET ${path} → issuer=${String(doc.issuer)} PKCE=${pkce.join(',')} registration=${doc.registration_endpoint ? 'open' : 'none'}`,
        { issuer: doc.issuer, code_challenge_methods_supported: pkce });
      return;
    }
    if (ex.method === 'POST' && asMeta.registration_endpoint && ex.url.href === asMeta.registration_endpoint) {
      const sent = JSON.parse(ex.requestBody || '{}') as { scope?: string };
      const body = ex.status < 300 ? await ex.response.clone().json() as { client_id?: string; scope?: string } : {};
      record('registration', ex.status === 201,
        `dynamic client registration POST ${path} → ${ex.status} client_id=${body.client_id ?? '-'} scope="${sent.scope ?? ''}" (public client, PKCE)`,
        { status: ex.status, scope: sent.scope });
      return;
    }
    if (ex.method === 'POST' && asMeta.token_endpoint && ex.url.href === asMeta.token_endpoint) {
      const sent = new URLSearchParams(ex.requestBody);
      const grant = sent.get('grant_type') ?? '?';
      const body = await ex.response.clone().json().catch(() => ({})) as Partial<OAuthTokens> & { error?: string };
      if (ex.status !== 200) {
        if (grant === 'authorization_code') note(`token endpoint (${grant}) → ${ex.status} ${body.error ?? ''}`);
        return;
      }
      const detail = `token endpoint (${grant}, resource=${sent.get('resource') ?? '-'}) → 200 ${describeToken(body.access_token ?? '')} expires_in=${body.expires_in ?? '?'}s${body.refresh_token ? ' + refresh token' : ''}`;
      if (grant === 'authorization_code') {
        record('token', sent.has('code_verifier') && sent.get('resource') === mcpUrl, detail, { scope: body.scope, refresh: body.refresh_token !== undefined });
      } else {
        note(detail);
      }
    }
  };
  const trace = tracingFetch(observe);

  const provider = new DemoOAuthProvider(redirectUrl, async (url) => {
    const p = url.searchParams;
    const outcome = await followAuthorization(url, redirectUrl);
    const line = `authorization request: response_type=${p.get('response_type')} code_challenge_method=${p.get('code_challenge_method')} resource=${p.get('resource')} scope="${p.get('scope')}"`;
    if (outcome.code !== undefined) {
      record('authorization', p.get('code_challenge_method') === 'S256' && p.has('code_challenge'),
        `${line} → demo user signed in and consented headlessly, code received (${outcome.hops} redirects)`,
        { scope: p.get('scope'), resource: p.get('resource'), method: p.get('code_challenge_method') });
    } else {
      // The caller decides whether this is a failure (the step-up recovers from invalid_scope).
      note(`${line} → refused: ${outcome.error ?? 'no code'}`);
    }
    return outcome;
  });

  const result: WalkthroughResult = {
    get ok() { return steps.length > 0 && steps.every((s) => s.ok); },
    steps,
    get: (step) => steps.find((s) => s.step === step),
    provider,
  };

  // 1. The first request has no token: 401 → discovery → registration → browser → code → token.
  let client: Client;
  try {
    const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: trace });
    try {
      await new Client({ name: 'demo-walkthrough', version: '1.0.0' }).connect(first);
      throw new Error('connected without authorization');
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) throw err;
    }
    await first.finishAuth(provider.takeCode());

  } catch (err) {
    record('token', false, `no token: ${describeError(err)}`);
    return result;
  }
  try {
    client = new Client({ name: 'demo-walkthrough', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: trace }));
    const server = client.getServerVersion();
    record('connect', true, `initialize with the token → connected to ${server?.name ?? '?'} ${server?.version ?? ''}`);
  } catch (err) {
    record('connect', false, `initialize with the token → ${describeError(err)}`);
    return result;
  }

  try {
    // 2. What this token may do.
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      record('list_tools', names.length > 0, `tools/list → ${names.join(', ')} (${names.length} tool${names.length === 1 ? '' : 's'} visible to scope "${provider.tokens()?.scope ?? ''}")`, { tools: names });
    } catch (err) {
      record('list_tools', false, `tools/list → ${describeError(err)}`);
    }
    try {
      const listed = await client.callTool({ name: 'list_notes', arguments: {} });
      record('allowed_call', listed.isError !== true, `tools/call list_notes → ${listed.isError ? 'error' : 'ok'}: ${textOf(listed).slice(0, 80)}`);
    } catch (err) {
      record('allowed_call', false, `tools/call list_notes → ${describeError(err)}`);
    }

    if (options.stepUp !== false) await stepUp(client);
    await refreshAndReplay();
  } finally {
    await client.close().catch(() => {});
  }
  return result;

  /** add_note needs notes:write: 403 → the SDK's in-band attempt → a new authorization → retry. */
  async function stepUp(c: Client): Promise<void> {
    const call = () => c.callTool({ name: 'add_note', arguments: { text: 'written after step-up' } });
    note('step-up: tools/call add_note, which needs notes:write');
    try {
      const r = await call();
      record('insufficient_scope', false, `tools/call add_note with scope "${provider.tokens()?.scope ?? ''}" → ${r.isError ? 'tool error' : 'allowed'}: expected 403 insufficient_scope`);
      return;
    } catch (err) {
      const is403 = err instanceof StreamableHTTPError && err.code === 403;
      record('sdk_step_up', is403, `the SDK refreshed (same scope) and retried → ${is403 ? '403 again: the SDK stops here; the client must authorize again' : describeError(err)}`);
      if (!is403) return;
    }
    const scope = lastInsufficient?.scope;
    if (!scope) {
      record('step_up', false, 'the 403 challenge carried no scope');
      return;
    }
    try {
      const previous = provider.tokens();
      provider.invalidateCredentials('tokens'); // else auth() refreshes, which cannot widen the scope
      await auth(provider, { serverUrl: mcpUrl, scope, fetchFn: trace });
      if (provider.lastAuthorization?.error === 'invalid_scope') {
        note('(expected: the authorization server refuses a scope wider than the one the client registered with) registering again');
        provider.invalidateCredentials('client');
        await auth(provider, { serverUrl: mcpUrl, scope, fetchFn: trace });
      }
      if (!provider.lastAuthorization?.code) {
        if (previous) provider.saveTokens(previous);
        record('step_up', false, `step-up authorization failed: ${provider.lastAuthorization?.error ?? 'no code'}`);
        return;
      }
      await auth(provider, { serverUrl: mcpUrl, scope, authorizationCode: provider.takeCode(), fetchFn: trace });
      const granted = provider.tokens()?.scope ?? '';
      const wanted = scope.split(' ');
      record('step_up', wanted.every((s) => granted.split(' ').includes(s)), `step-up complete: new token with scope "${granted}"`, { scope: granted });
    } catch (err) {
      record('step_up', false, `step-up failed: ${describeError(err)}`);
      return;
    }
    try {
      const r = await call();
      const tools = (await c.listTools()).tools.map((t) => t.name);
      record('step_up_call', r.isError !== true, `retried tools/call add_note → ${r.isError ? 'error' : 'ok'}: ${textOf(r).slice(0, 60)}; tools/list now → ${tools.join(', ')}`, { tools });
    } catch (err) {
      record('step_up_call', false, `retried tools/call add_note → ${describeError(err)}`);
    }
  }

  /** Refresh with rotation, then replay the old refresh token. */
  async function refreshAndReplay(): Promise<void> {
    const old = provider.tokens()?.refresh_token;
    const info = provider.clientInformation();
    const state = provider.discoveryState();
    if (!old || !info || !state) {
      record('refresh', false, 'no refresh token was issued');
      return;
    }
    let rotated: string | undefined;
    try {
      await auth(provider, { serverUrl: mcpUrl, fetchFn: trace });
      rotated = provider.tokens()?.refresh_token;
      record('refresh', rotated !== undefined && rotated !== old, `refresh → new access token, refresh token ${rotated !== undefined && rotated !== old ? 'rotated (a new one replaces the old)' : 'NOT rotated'}`, { rotated: rotated !== old });
    } catch (err) {
      record('refresh', false, `refresh failed: ${describeError(err)}`);
      return;
    }
    const present = async (refreshToken: string): Promise<string> => {
      try {
        await refreshAuthorization(state.authorizationServerUrl, {
          metadata: state.authorizationServerMetadata,
          clientInformation: info,
          refreshToken,
          resource: mcpUrl,
          fetchFn: trace,
        });
        return 'accepted';
      } catch (err) {
        return err instanceof InvalidGrantError ? 'invalid_grant' : describeError(err);
      }
    };
    const replay = await present(old);
    record('replay_refused', replay === 'invalid_grant', `replay of the old refresh token → ${replay === 'invalid_grant' ? 'refused (invalid_grant)' : replay}`, { outcome: replay });
    if (rotated) {
      const reuse = await present(rotated);
      record('reuse_detected', reuse === 'invalid_grant', `the replay revoked the grant: the newest refresh token → ${reuse === 'invalid_grant' ? 'refused too (invalid_grant)' : reuse}`, { outcome: reuse });
    }
  }
}

function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join(' ');
}

function describeError(err: unknown): string {
  if (err instanceof StreamableHTTPError) return `HTTP ${String(err.code)}`;
  if (err instanceof Error) return `${err.name}: ${err.message.split('\n')[0]!.slice(0, 120)}`;
  return String(err);
}

// Run alone.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runWalkthrough({ mcpUrl: process.argv[2] ?? 'http://127.0.0.1:3000/mcp' });
  process.exitCode = result.ok ? 0 : 1;
}
