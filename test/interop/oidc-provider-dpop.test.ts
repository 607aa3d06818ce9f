/**
 * DPoP (RFC 9449) end to end with a real authorization server: oidc-provider 9 (its `features.dPoP`
 * is on by default) binds client credentials tokens to the key of the proof sent to its token
 * endpoint (`cnf.jkt`, `token_type: "DPoP"`), as JWT access tokens and as opaque tokens answered
 * by introspection. The guard runs in front of an Express handler on 127.0.0.1 whose /mcp URL is
 * the resource those tokens are issued for; every request is real HTTP.
 */
import type { RequestListener } from 'node:http';
import { decodeJwt } from 'jose';
import type { Options } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { buildProof, makeDpopKey, type DpopKey } from '../helpers/dpop.js';
import { listen, type Listening } from '../helpers/http.js';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.js';
import { PING } from '../helpers/opaque.js';

interface Auth { clientId: string; scopes: string[]; extra: { cnf?: { jkt?: string } } & Record<string, unknown> }

/** A server on 127.0.0.1 whose request handler can be swapped (one guard per test, one URL): its /mcp URL. */
interface Host { url: string; live: Listening; use(listener: RequestListener): void }
async function startHost(): Promise<Host> {
  let current: RequestListener = (_req, res) => { res.statusCode = 503; res.end(); };
  const live = await listen((req, res) => current(req, res));
  return { url: `${live.url}/mcp`, live, use: (l) => { current = l; } };
}

/** A DPoP proof by `key` for `htm` `htu` (with `ath` of `token` when given); `signWith` signs instead (a forged proof). */
function proof(key: DpopKey, c: { htm: string; htu: string; token?: string }, signWith?: DpopKey): Promise<string> {
  return buildProof({ key, htm: c.htm, htu: c.htu, ...(c.token !== undefined ? { accessToken: c.token } : {}), ...(signWith ? { signWith } : {}) });
}

async function call(url: string, authorization: string, dpop?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization, ...(dpop === undefined ? {} : { dpop }) },
    body: JSON.stringify(PING),
  });
  const text = await res.text();
  let body: { error?: { data?: { error?: string; error_description?: string } } } = {};
  try { body = JSON.parse(text); } catch { /* not JSON: left empty, the status tells */ }
  return { status: res.status, body, text, challenge: res.headers.get('www-authenticate') ?? '', nonce: res.headers.get('dpop-nonce') };
}
/** For failure messages: what the guard actually answered. */
const seen = (r: Awaited<ReturnType<typeof call>>) => `${r.status} ${r.challenge} ${r.text}`;

let jwtHost: Host | undefined;
let opaqueHost: Host | undefined;
let op: TestProvider | undefined;
let key: DpopKey;
const open: TestApp[] = [];

/** The app on `host`, with the guard's decisions: `'allow'` or the deny's stable reason, in order. */
function guardOn(host: Host, extra: Partial<Options>): TestApp & { decisions: string[] } {
  const decisions: string[] = [];
  const onEvent: Options['onEvent'] = (e) => {
    if (e.type === 'allow') decisions.push('allow');
    else if (e.type === 'deny') decisions.push(e.reason);
  };
  const t = buildApp({ resource: host.url, issuer: op!.issuer, onEvent, ...extra } as Options);
  open.push(t);
  host.use(t.app);
  return { ...t, decisions };
}

/** A client credentials token, DPoP-bound to `k` when given: the token response is checked. */
async function token(resource: string, k?: DpopKey): Promise<string> {
  const dpop = k && await proof(k, { htm: 'POST', htu: op!.tokenEndpoint });
  const { status, body } = await op!.tokenResponse(resource, 'mcp notes:read', dpop === undefined ? {} : { dpop });
  expect({ status, error: body.error, description: body.error_description }).toEqual({ status: 200, error: undefined, description: undefined });
  expect(body.token_type).toBe(k ? 'DPoP' : 'Bearer');
  expect(typeof body.access_token).toBe('string');
  return body.access_token as string;
}

beforeAll(async () => {
  jwtHost = await startHost();
  opaqueHost = await startHost();
  op = await startTestProvider({
    [jwtHost.url]: { format: 'jwt', scope: 'mcp notes:read' },
    [opaqueHost.url]: { format: 'opaque', scope: 'mcp notes:read' },
  });
  key = await makeDpopKey('ES256');
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.guard.close();
});
afterAll(async () => {
  await op?.close();
  await jwtHost?.live.close();
  await opaqueHost?.live.close();
});

describe('oidc-provider 9 issues DPoP-bound tokens', () => {
  test('its metadata announces DPoP; a proof at the token endpoint binds the JWT to the key (cnf.jkt)', async () => {
    const meta = await (await fetch(`${op!.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    expect(meta.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256']));
    const bound = await token(jwtHost!.url, key);
    const claims = decodeJwt(bound);
    expect(claims.cnf).toEqual({ jkt: key.thumbprint });
    expect(claims.aud).toBe(jwtHost!.url);
    expect(claims.iss).toBe(op!.issuer);
    const plain = decodeJwt(await token(jwtHost!.url));
    expect(plain.cnf).toBeUndefined();
  });

  test('an opaque token bound by a proof: introspection answers cnf.jkt and token_type DPoP', async () => {
    const bound = await token(opaqueHost!.url, key);
    expect(bound).not.toContain('.');
    const { clientId, clientSecret } = op!.introspectionClient;
    const res = await fetch(`${op!.issuer}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ token: bound }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ active: true, cnf: { jkt: key.thumbprint }, token_type: 'DPoP', aud: opaqueHost!.url });
  });
});

describe("the guard with dpop 'allowed' (JWT access tokens)", () => {
  test('(1) Authorization: DPoP + a fresh proof for POST /mcp: 200, req.auth.extra.cnf.jkt is the key thumbprint', async () => {
    const t = guardOn(jwtHost!, { dpop: 'allowed' });
    const bound = await token(jwtHost!.url, key);
    const res = await call(jwtHost!.url, `DPoP ${bound}`, await proof(key, { htm: 'POST', htu: jwtHost!.url, token: bound }));
    expect(seen(res)).toMatch(/^200 /);
    expect(res.nonce).toBeNull();
    expect(t.calls()).toBe(1);
    const auth = t.lastAuth() as Auth;
    expect(auth.extra.cnf?.jkt).toBe(key.thumbprint);
    expect(auth.clientId).toBe('test-cc-client');
    expect([...auth.scopes].sort()).toEqual(['mcp', 'notes:read']);
    expect(t.decisions).toEqual(['allow']);
  });

  test('the same proof sent twice: the second is refused as a replay', async () => {
    const t = guardOn(jwtHost!, { dpop: 'allowed' });
    const bound = await token(jwtHost!.url, key);
    const p = await proof(key, { htm: 'POST', htu: jwtHost!.url, token: bound });
    expect(seen(await call(jwtHost!.url, `DPoP ${bound}`, p))).toMatch(/^200 /);
    const again = await call(jwtHost!.url, `DPoP ${bound}`, p);
    expect(seen(again)).toMatch(/^401 /);
    expect(again.body.error?.data?.error).toBe('invalid_dpop_proof');
    expect(t.decisions).toEqual(['allow', 'dpop_proof_replayed']);
    expect(t.calls()).toBe(1);
  });

  test('(2) the bound token as Authorization: Bearer: 401 invalid_token, handler not run', async () => {
    const t = guardOn(jwtHost!, { dpop: 'allowed' });
    const bound = await token(jwtHost!.url, key);
    const res = await call(jwtHost!.url, `Bearer ${bound}`);
    expect(seen(res)).toMatch(/^401 /);
    expect(res.body.error?.data?.error).toBe('invalid_token');
    expect(res.challenge).toMatch(/^Bearer error="invalid_token"/);
    expect(res.challenge).toMatch(/, DPoP algs="[^"]*ES256[^"]*"$/);
    expect(t.decisions).toEqual(['token_bound_to_key']);
    expect(t.calls()).toBe(0);
  });

  test('(3) a proof from another key: 401 invalid_dpop_proof (key mismatch, and a signature that does not match its jwk)', async () => {
    const t = guardOn(jwtHost!, { dpop: 'allowed' });
    const bound = await token(jwtHost!.url, key);
    const other = await makeDpopKey('ES256');
    const claims = { htm: 'POST', htu: jwtHost!.url, token: bound };

    const mismatch = await call(jwtHost!.url, `DPoP ${bound}`, await proof(other, claims));
    expect(seen(mismatch)).toMatch(/^401 /);
    expect(mismatch.body.error?.data?.error).toBe('invalid_dpop_proof');
    expect(mismatch.challenge).toMatch(/^DPoP error="invalid_dpop_proof"/);

    const forged = await call(jwtHost!.url, `DPoP ${bound}`, await proof(key, claims, other));
    expect(seen(forged)).toMatch(/^401 /);
    expect(forged.body.error?.data?.error).toBe('invalid_dpop_proof');
    expect(t.decisions).toEqual(['dpop_key_mismatch', 'dpop_proof_invalid']);
    expect(t.calls()).toBe(0);
  });

  test("(4) a plain token from the same provider passes as Bearer with 'allowed', is refused with 'required'", async () => {
    const plain = await token(jwtHost!.url);
    const allowed = guardOn(jwtHost!, { dpop: 'allowed' });
    expect(seen(await call(jwtHost!.url, `Bearer ${plain}`))).toMatch(/^200 /);
    expect(allowed.calls()).toBe(1);
    expect((allowed.lastAuth() as Auth).extra.cnf).toBeUndefined();

    // Presented with the DPoP scheme and a valid proof, an unbound token is not accepted either.
    const unbound = await call(jwtHost!.url, `DPoP ${plain}`, await proof(key, { htm: 'POST', htu: jwtHost!.url, token: plain }));
    expect(seen(unbound)).toMatch(/^401 /);
    expect(unbound.body.error?.data?.error).toBe('invalid_token');
    expect(allowed.decisions).toEqual(['allow', 'token_not_bound']);
    expect(allowed.calls()).toBe(1);

    const required = guardOn(jwtHost!, { dpop: 'required' });
    const res = await call(jwtHost!.url, `Bearer ${plain}`);
    expect(seen(res)).toMatch(/^401 /);
    expect(res.challenge).toMatch(/^DPoP /);
    expect(res.challenge).not.toContain('error=');
    expect(required.decisions).toEqual(['missing_token']);
    expect(required.calls()).toBe(0);

    // ... while a bound token with its proof passes there.
    const bound = await token(jwtHost!.url, key);
    expect(seen(await call(jwtHost!.url, `DPoP ${bound}`, await proof(key, { htm: 'POST', htu: jwtHost!.url, token: bound })))).toMatch(/^200 /);
    expect(required.calls()).toBe(1);
    expect(required.decisions).toEqual(['missing_token', 'allow']);
  });

  test("(5) dpop 'off': the bound token as Bearer is refused (401 invalid_token)", async () => {
    const t = guardOn(jwtHost!, { dpop: 'off' });
    const bound = await token(jwtHost!.url, key);
    const res = await call(jwtHost!.url, `Bearer ${bound}`);
    expect(seen(res)).toMatch(/^401 /);
    expect(res.body.error?.data?.error).toBe('invalid_token');
    expect(res.challenge).toMatch(/^Bearer /);
    expect(res.challenge).not.toContain('DPoP');
    expect(t.decisions).toEqual(['type_not_allowed']);
    expect(t.calls()).toBe(0);
  });
});

describe("the guard with dpop 'allowed' (opaque tokens, introspection)", () => {
  const opaque = (): Partial<Options> => ({ dpop: 'allowed', tokenFormat: 'opaque', introspection: { ...op!.introspectionClient } } as Partial<Options>);

  test('(1) Authorization: DPoP + a fresh proof: 200, req.auth.extra.cnf.jkt is the key thumbprint', async () => {
    const t = guardOn(opaqueHost!, opaque());
    const bound = await token(opaqueHost!.url, key);
    const res = await call(opaqueHost!.url, `DPoP ${bound}`, await proof(key, { htm: 'POST', htu: opaqueHost!.url, token: bound }));
    expect(seen(res)).toMatch(/^200 /);
    expect(t.calls()).toBe(1);
    expect((t.lastAuth() as Auth).extra.cnf?.jkt).toBe(key.thumbprint);
    expect(t.decisions).toEqual(['allow']);
  });

  test('(2) the bound token as Authorization: Bearer: 401 invalid_token, handler not run', async () => {
    const t = guardOn(opaqueHost!, opaque());
    const bound = await token(opaqueHost!.url, key);
    const res = await call(opaqueHost!.url, `Bearer ${bound}`);
    expect(seen(res)).toMatch(/^401 /);
    expect(res.body.error?.data?.error).toBe('invalid_token');
    expect(t.decisions).toEqual(['token_bound_to_key']);
    expect(t.calls()).toBe(0);
  });
});
