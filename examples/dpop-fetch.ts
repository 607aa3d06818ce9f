/**
 * DPoP (RFC 9449) for an MCP client: a `fetch` that sends a DPoP-bound access token as
 * `Authorization: DPoP <token>` with a fresh `DPoP` proof on every request. Copy it into a client;
 * it needs `jose` and a runtime with Web Crypto (Node 20+, browsers, Deno, Bun).
 *
 *   const { privateKey, publicKey } = await generateKeyPair('ES256');
 *   const publicJwk = await exportJWK(publicKey);
 *   // Token request: send dpopProof({ privateKey, publicJwk, alg: 'ES256', htm: 'POST', htu: tokenEndpoint })
 *   // as the DPoP header; the token comes back bound to the key (cnf.jkt, token_type "DPoP").
 *   const transport = new StreamableHTTPClientTransport(new URL('https://mcp.example.com/mcp'), {
 *     fetch: dpopFetch({ privateKey, publicJwk, alg: 'ES256', accessToken }),
 *   });
 *
 * Use it without the transport's `authProvider`: that one sets `Authorization: Bearer` (replaced
 * here anyway), and its OAuth requests (metadata, token endpoint) go through this same fetch, which
 * would send them the access token. Each proof is made for the URL and method of the request it
 * goes with, so the transport's POST, its GET stream and its DELETE each get their own.
 *
 * Server nonces (RFC 9449 §9; mcp-oauth-guard's `dpopNonceSeconds`): the last `DPoP-Nonce` a
 * server (an origin) sent goes in every later proof to it, and a 401 `use_dpop_nonce` is answered
 * once more with a proof carrying the nonce it came with (a body that is a stream or an async
 * iterable is not sent twice: that 401 is returned). Not handled: a redirect `fetch` follows by itself (it re-sends the
 * same proof, made for the first URL, which the server refuses; pass `redirect: 'error'` to keep a
 * proof from following one).
 */
import { SignJWT, base64url, type CryptoKey, type JWK, type KeyObject } from 'jose';

/** The client's DPoP key pair. */
export interface DpopKeyPair {
  /** Signs the proofs. A non-extractable `CryptoKey` is fine (and best). */
  privateKey: CryptoKey | KeyObject;
  /** The public key as a JWK (`exportJWK(publicKey)`), put in every proof: no private members. */
  publicJwk: JWK;
  /** The signature algorithm of the key, one the server accepts (`ES256`, `RS256`, `EdDSA`, …). */
  alg: string;
}

/** A proof for one request (RFC 9449 §4.2). `htu` is taken without query and fragment; `nonce` is the server's (§9), if it gave one. */
export async function dpopProof(o: DpopKeyPair & { htm: string; htu: string | URL; accessToken?: string; nonce?: string }): Promise<string> {
  const htu = new URL(o.htu);
  htu.search = '';
  htu.hash = '';
  const claims: Record<string, string> = { jti: crypto.randomUUID(), htm: o.htm, htu: htu.href };
  if (o.nonce !== undefined) claims.nonce = o.nonce;
  if (o.accessToken !== undefined) {
    // ath: base64url(SHA-256(token)), the token's ASCII bytes.
    claims.ath = base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(o.accessToken))));
  }
  return new SignJWT(claims)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: o.alg, jwk: o.publicJwk })
    .setIssuedAt()
    .sign(o.privateKey);
}

/** Options of {@link dpopFetch}. */
export interface DpopFetchOptions extends DpopKeyPair {
  /** The DPoP-bound access token, or a function giving the current one (after a refresh). */
  accessToken: string | (() => string | Promise<string>);
  /** The fetch to wrap. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** A request body fetch can send again as it is. */
function isReplayable(body: BodyInit): boolean {
  return typeof body === 'string' || body instanceof ArrayBuffer || ArrayBuffer.isView(body) || body instanceof Blob || body instanceof URLSearchParams || body instanceof FormData;
}

/**
 * A `fetch` that adds `Authorization: DPoP <token>` and a fresh `DPoP` proof to every request:
 * pass it as `StreamableHTTPClientTransport`'s `fetch` option. The transport calls it with an
 * absolute URL (a `URL` or its string; a relative one throws) and an init whose headers may be a
 * `Headers` object or a record; a `Request` works too.
 */
export function dpopFetch(options: DpopFetchOptions): typeof fetch {
  const { accessToken, fetch: base = fetch, ...key } = options;
  /** The last nonce each origin sent (`DPoP-Nonce`). */
  const nonces = new Map<string, string>();
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const url = request?.url ?? input.toString();
    const origin = new URL(url).origin;
    const token = typeof accessToken === 'string' ? accessToken : await accessToken();
    // As fetch sends it: DELETE, GET, HEAD, OPTIONS, POST, PUT upper-cased, any other as given
    // (the Fetch Standard's "normalize a method"; methods are case-sensitive, RFC 9110 §9.1).
    const method = init?.method ?? request?.method ?? 'GET';
    const htm = /^(?:delete|get|head|options|post|put)$/i.test(method) ? method.toUpperCase() : method;
    // A body that can be sent twice: none, a string, bytes, a Blob, a form; a Request's, through a
    // copy made beforehand (it can be read once). Not a stream or an async iterable.
    const body = init?.body;
    const spare = body == null && request?.body ? request.clone() : undefined;
    const resendable = body == null || isReplayable(body);
    const send = async (target: RequestInfo | URL, nonce: string | undefined): Promise<Response> => {
      const headers = new Headers(init?.headers ?? request?.headers);
      headers.set('authorization', `DPoP ${token}`);
      headers.set('dpop', await dpopProof({ ...key, htm, htu: url, accessToken: token, ...(nonce !== undefined ? { nonce } : {}) }));
      const res = await base(target, { ...init, headers });
      const next = res.headers.get('dpop-nonce');
      // (The server that answered: after a redirect fetch followed, another origin.)
      if (next !== null) nonces.set(res.url ? new URL(res.url).origin : origin, next);
      return res;
    };
    const used = nonces.get(origin);
    const res = await send(input, used);
    const fresh = res.headers.get('dpop-nonce');
    if (res.status !== 401 || fresh === null || fresh === used || !resendable || !/\berror="use_dpop_nonce"/.test(res.headers.get('www-authenticate') ?? '')) return res;
    await res.body?.cancel();
    return send(spare ?? input, fresh);
  };
}
