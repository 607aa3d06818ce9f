/**
 * The synchronous signature path (lib/verify/signature.ts) against `jose`, on every case of the
 * security battery: the guard's verifier with the native path and with `jose.jwtVerify` must take
 * the same decision for the same reason, and the guard never accepts what plain `jose.jwtVerify`
 * (same options) rejects. Keys come from a loopback JWKS, as in production.
 */
import { constants, createHmac, createPublicKey, generateKeyPairSync, KeyObject, sign as cryptoSign } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { McpAuthError } from '../../lib/errors.js';
import { resolveOptions, type Config } from '../../lib/options.js';
import { RemoteKeySet } from '../../lib/verify/jwks.js';
import { jwtVerifier } from '../../lib/verify/jwt.js';
import { nativeKey } from '../../lib/verify/signature.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';

const NOW = 1_800_000_000; // seconds
const RESOURCE = 'https://mcp.example.com/mcp';

type Alg = 'RS256' | 'RS384' | 'PS256' | 'PS384' | 'ES256' | 'ES384' | 'EdDSA' | 'HS256';
interface Signer { kid: string; alg: Alg; privateKey: KeyObject; publicJwk: Record<string, unknown> }

function makeSigner(alg: Alg, kid: string, opts: { modulusLength?: number; jwkAlg?: string | null; use?: string } = {}): Signer {
  const pair = alg.startsWith('RS') || alg.startsWith('PS')
    ? generateKeyPairSync('rsa', { modulusLength: opts.modulusLength ?? 2048 })
    : alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'ES384' ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : generateKeyPairSync('ed25519');
  const jwk: Record<string, unknown> = { ...pair.publicKey.export({ format: 'jwk' }), kid, use: opts.use ?? 'sig' };
  if (opts.jwkAlg !== null) jwk.alg = opts.jwkAlg ?? alg;
  return { kid, alg, privateKey: pair.privateKey, publicJwk: jwk };
}

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Raw signature over `input` with `key` for `alg` (no checks: the battery forges on purpose). */
function rawSign(alg: string, key: KeyObject | Buffer, input: string): Buffer {
  const data = Buffer.from(input);
  const bits = alg.slice(2);
  if (alg.startsWith('HS')) return createHmac(`sha${bits}`, key as Buffer).update(data).digest();
  if (alg.startsWith('RS')) return cryptoSign(`sha${bits}`, data, key as KeyObject);
  if (alg.startsWith('PS')) return cryptoSign(`sha${bits}`, data, { key: key as KeyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 });
  if (alg.startsWith('ES')) return cryptoSign(`sha${bits}`, data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
  return cryptoSign(null, data, key as KeyObject);
}

function claims(over: Record<string, unknown> = {}): Record<string, unknown> {
  const c: Record<string, unknown> = {
    iss: '', aud: RESOURCE, sub: 'user-1', client_id: 'client-1', scope: 'mcp', iat: NOW, exp: NOW + 600, jti: 'j1', ...over,
  };
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
}

interface Forge {
  signer: Signer;
  header?: Record<string, unknown> | string;
  payload?: Record<string, unknown> | string;
  /** Sign as this alg (default: the header's). */
  signAlg?: string;
  signKey?: KeyObject | Buffer;
  /** Replace or transform the signature segment. */
  signature?: (sig: Buffer, b64sig: string) => string;
  /** Transform the finished token. */
  after?: (token: string) => string;
}

let issuer = '';

function forge(f: Forge): string {
  const header = typeof f.header === 'string' ? f.header : { alg: f.signer.alg, kid: f.signer.kid, typ: 'at+jwt', ...f.header };
  for (const k of Object.keys(typeof header === 'object' ? header : {})) if ((header as Record<string, unknown>)[k] === undefined) delete (header as Record<string, unknown>)[k];
  const payload = typeof f.payload === 'string' ? f.payload : claims({ iss: issuer, ...f.payload });
  const input = `${b64(header)}.${typeof f.payload === 'string' ? f.payload : b64(payload)}`;
  const alg = f.signAlg ?? (typeof header === 'object' && typeof header.alg === 'string' ? header.alg : f.signer.alg);
  const sig = alg === 'none' ? Buffer.alloc(0) : rawSign(alg, f.signKey ?? f.signer.privateKey, input);
  const sigText = f.signature ? f.signature(sig, sig.toString('base64url')) : sig.toString('base64url');
  const token = `${input}.${sigText}`;
  return f.after ? f.after(token) : token;
}

/** Flip one base64url character in the middle of a segment. */
function flip(segment: string): string {
  const i = segment.length >> 1;
  const c = segment[i] === 'A' ? 'B' : 'A';
  return segment.slice(0, i) + c + segment.slice(i + 1);
}

/** ECDSA high-S twin of a P-256 IEEE P1363 signature: (r, n − s), also a valid signature. */
function highS(sig: Buffer): string {
  const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  const s = BigInt(`0x${sig.subarray(32).toString('hex')}`);
  const s2 = (n - s).toString(16).padStart(64, '0');
  return Buffer.concat([sig.subarray(0, 32), Buffer.from(s2, 'hex')]).toString('base64url');
}

let as: LoopbackAS;
const s: Record<string, Signer> = {};

beforeAll(async () => {
  as = await startLoopbackAS();
  issuer = as.issuer;
  s.rs = makeSigner('RS256', 'rs');
  s.rsNoAlg = makeSigner('RS256', 'rs-noalg', { jwkAlg: null });
  s.ps = makeSigner('PS256', 'ps');
  s.es = makeSigner('ES256', 'es');
  s.es384 = makeSigner('ES384', 'es384');
  s.ed = makeSigner('EdDSA', 'ed');
  s.weak = makeSigner('RS256', 'weak', { modulusLength: 1024 });
  s.enc = makeSigner('RS256', 'enc', { use: 'enc' });
  s.attacker = makeSigner('RS256', 'attacker');
  s.attackerEs = makeSigner('ES256', 'es');
  as.keys = [s.rs, s.rsNoAlg, s.ps, s.es, s.es384, s.ed, s.weak, s.enc].map((k) => k.publicJwk);
});

afterAll(async () => {
  await as.close();
});

interface Case { name: string; token: () => string; accept: boolean; strictAccept?: boolean }

const cases: Case[] = [
  // Valid tokens, every family of the native path.
  { name: 'valid RS256', token: () => forge({ signer: s.rs! }), accept: true, strictAccept: true },
  { name: 'valid RS256, key without alg', token: () => forge({ signer: s.rsNoAlg! }), accept: true, strictAccept: true },
  { name: 'valid RS384 on a key without alg', token: () => forge({ signer: s.rsNoAlg!, header: { alg: 'RS384' } }), accept: true, strictAccept: true },
  { name: 'valid PS256 on a key without alg', token: () => forge({ signer: s.rsNoAlg!, header: { alg: 'PS256' } }), accept: true, strictAccept: true },
  { name: 'valid PS256', token: () => forge({ signer: s.ps! }), accept: true, strictAccept: true },
  { name: 'valid ES256', token: () => forge({ signer: s.es! }), accept: true, strictAccept: true },
  { name: 'valid ES384', token: () => forge({ signer: s.es384! }), accept: true, strictAccept: true },
  { name: 'valid EdDSA', token: () => forge({ signer: s.ed! }), accept: true, strictAccept: true },
  { name: 'ES256 high-S twin (ECDSA malleability: valid for WebCrypto and OpenSSL)', token: () => forge({ signer: s.es!, signature: (sig) => highS(sig) }), accept: true, strictAccept: true },
  { name: 'typ JWT', token: () => forge({ signer: s.rs!, header: { typ: 'JWT' } }), accept: true, strictAccept: false },
  { name: 'no typ', token: () => forge({ signer: s.rs!, header: { typ: undefined } }), accept: true, strictAccept: false },
  { name: 'no kid, several RSA keys (each candidate tried)', token: () => forge({ signer: s.rs!, header: { kid: undefined } }), accept: true, strictAccept: true },
  { name: 'no kid, single EdDSA key', token: () => forge({ signer: s.ed!, header: { kid: undefined } }), accept: true, strictAccept: true },

  // Algorithm attacks.
  { name: 'alg none, empty signature', token: () => forge({ signer: s.rs!, header: { alg: 'none' } }), accept: false },
  { name: 'alg none with a signature', token: () => forge({ signer: s.rs!, header: { alg: 'none' }, signAlg: 'RS256' }), accept: false },
  { name: 'alg NONE', token: () => forge({ signer: s.rs!, header: { alg: 'NONE' }, signAlg: 'RS256' }), accept: false },
  { name: 'HS256 with the RSA public key (PEM) as secret', token: () => forge({ signer: s.rs!, header: { alg: 'HS256' }, signKey: Buffer.from(createPublicKey(s.rs!.privateKey).export({ type: 'spki', format: 'pem' }) as string) }), accept: false },
  { name: 'HS256 with the RSA JWK n as secret', token: () => forge({ signer: s.rs!, header: { alg: 'HS256' }, signKey: Buffer.from(String(s.rs!.publicJwk.n)) }), accept: false },
  { name: 'RS384 header on a key pinned to RS256', token: () => forge({ signer: s.rs!, header: { alg: 'RS384' } }), accept: false },
  { name: 'PS256 header, RS256 signature (key without alg)', token: () => forge({ signer: s.rsNoAlg!, header: { alg: 'PS256' }, signAlg: 'RS256' }), accept: false },
  { name: 'RS256 header, PS256 signature (key without alg)', token: () => forge({ signer: s.rsNoAlg!, header: { alg: 'RS256' }, signAlg: 'PS256' }), accept: false },
  { name: 'ES256 header on an RSA kid', token: () => forge({ signer: s.rs!, header: { alg: 'ES256' }, signKey: s.es!.privateKey, signAlg: 'ES256' }), accept: false },
  { name: 'ES384 header on a P-256 key', token: () => forge({ signer: s.es!, header: { alg: 'ES384' }, signKey: s.es384!.privateKey }), accept: false },
  { name: 'Ed25519 alg name (not in the allowlist)', token: () => forge({ signer: s.ed!, header: { alg: 'Ed25519' } }), accept: false },
  { name: 'alg not a string', token: () => forge({ signer: s.rs!, header: { alg: 256 }, signAlg: 'RS256' }), accept: false },
  { name: 'RSA key of 1024 bits', token: () => forge({ signer: s.weak! }), accept: false },
  { name: 'key with use "enc"', token: () => forge({ signer: s.enc! }), accept: false },

  // Key injection.
  { name: 'embedded jwk (attacker key), no kid', token: () => forge({ signer: s.attacker!, header: { kid: undefined, jwk: s.attacker!.publicJwk } }), accept: false },
  { name: 'embedded jwk (attacker key), legit kid', token: () => forge({ signer: s.attacker!, header: { kid: 'rs', jwk: s.attacker!.publicJwk } }), accept: false },
  { name: 'jku to the attacker', token: () => forge({ signer: s.attacker!, header: { jku: 'https://evil.example/jwks' } }), accept: false },
  { name: 'x5u / x5c headers', token: () => forge({ signer: s.attacker!, header: { kid: 'rs', x5u: 'https://evil.example/c.pem', x5c: ['AAAA'] } }), accept: false },
  { name: 'unknown kid', token: () => forge({ signer: s.rs!, header: { kid: 'nope' } }), accept: false },
  { name: 'kid not a string', token: () => forge({ signer: s.rs!, header: { kid: 7 } }), accept: false },
  { name: 'attacker ES256 key under the legit kid', token: () => forge({ signer: s.attackerEs! }), accept: false },

  // Header problems.
  { name: 'crit exp', token: () => forge({ signer: s.rs!, header: { crit: ['exp'], exp: NOW + 600 } }), accept: false },
  { name: 'crit b64 false (unencoded payload)', token: () => forge({ signer: s.rs!, header: { crit: ['b64'], b64: false } }), accept: false },
  { name: 'crit b64 true', token: () => forge({ signer: s.rs!, header: { crit: ['b64'], b64: true } }), accept: false },
  { name: 'b64 false without crit (ignored by JWS)', token: () => forge({ signer: s.rs!, header: { b64: false } }), accept: true, strictAccept: true },
  { name: 'header not JSON', token: () => forge({ signer: s.rs!, header: 'not json', signAlg: 'RS256' }), accept: false },
  { name: 'header a JSON array', token: () => forge({ signer: s.rs!, header: '["RS256"]', signAlg: 'RS256' }), accept: false },
  { name: 'typ id+jwt', token: () => forge({ signer: s.rs!, header: { typ: 'id+jwt' } }), accept: false },

  // Shape.
  { name: 'JWE (five parts)', token: () => `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.AAAA.AAAA.AAAA.AAAA`, accept: false },
  { name: 'two parts', token: () => forge({ signer: s.rs!, after: (t) => t.slice(0, t.lastIndexOf('.')) }), accept: false },
  { name: 'empty signature segment', token: () => forge({ signer: s.rs!, signature: () => '' }), accept: false },
  { name: 'signature with padding', token: () => forge({ signer: s.rs!, signature: (sig) => sig.toString('base64') }), accept: false },

  // Signatures.
  { name: 'ES256 zero signature', token: () => forge({ signer: s.es!, signature: () => Buffer.alloc(64).toString('base64url') }), accept: false },
  { name: 'ES256 DER-encoded signature', token: () => forge({ signer: s.es!, signature: () => cryptoSign('sha256', Buffer.from('x'), s.es!.privateKey).toString('base64url') }), accept: false },
  { name: 'ES256 signature too short', token: () => forge({ signer: s.es!, signature: (sig) => sig.subarray(0, 63).toString('base64url') }), accept: false },
  { name: 'RS256 zero signature', token: () => forge({ signer: s.rs!, signature: () => Buffer.alloc(256).toString('base64url') }), accept: false },
  { name: 'RS256 signature one byte short', token: () => forge({ signer: s.rs!, signature: (sig) => sig.subarray(1).toString('base64url') }), accept: false },
  { name: 'RS256 signature with a leading zero byte', token: () => forge({ signer: s.rs!, signature: (sig) => Buffer.concat([Buffer.alloc(1), sig]).toString('base64url') }), accept: false },
  { name: 'signature with one extra character', token: () => forge({ signer: s.rs!, signature: (_sig, t) => `${t}A` }), accept: false },
  { name: 'signature with three extra characters (not base64: length 4n + 1)', token: () => forge({ signer: s.rs!, signature: (_sig, t) => `${t}AAA` }), accept: false },
  { name: 'signature with two extra characters', token: () => forge({ signer: s.es!, signature: (_sig, t) => `${t}AA` }), accept: false },
  { name: 'EdDSA signature flipped', token: () => forge({ signer: s.ed!, signature: (_sig, t) => flip(t) }), accept: false },
  { name: 'tampered signature', token: () => forge({ signer: s.rs!, signature: (_sig, t) => flip(t) }), accept: false },
  { name: 'tampered payload (scope widened, old signature)', token: () => { const t = forge({ signer: s.rs! }); const [h, , sig] = t.split('.'); return `${h}.${b64(claims({ iss: issuer, scope: 'mcp admin' }))}.${sig}`; }, accept: false },
  { name: 'tampered header (typ changed, old signature)', token: () => { const t = forge({ signer: s.es! }); const [, p, sig] = t.split('.'); return `${b64({ alg: 'ES256', kid: 'es', typ: 'JWT' })}.${p}.${sig}`; }, accept: false },
  { name: 'signature of another token', token: () => { const a = forge({ signer: s.es! }); const b = forge({ signer: s.es!, payload: { sub: 'user-2' } }); return `${a.slice(0, a.lastIndexOf('.'))}${b.slice(b.lastIndexOf('.'))}`; }, accept: false },

  // Payload shape.
  { name: 'payload a JSON array', token: () => forge({ signer: s.rs!, payload: b64('[1]') }), accept: false },
  { name: 'payload a JSON string', token: () => forge({ signer: s.rs!, payload: b64('"x"') }), accept: false },
  { name: 'payload not JSON', token: () => forge({ signer: s.rs!, payload: b64('{"iss":') }), accept: false },
  { name: 'payload invalid UTF-8', token: () => forge({ signer: s.rs!, payload: Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url') }), accept: false },

  // Time claims (clockTolerance 5 s).
  { name: 'exp missing', token: () => forge({ signer: s.rs!, payload: { exp: undefined } }), accept: false },
  { name: 'exp long past', token: () => forge({ signer: s.rs!, payload: { exp: NOW - 3600 } }), accept: false },
  { name: 'exp = now − tolerance (boundary: expired)', token: () => forge({ signer: s.rs!, payload: { exp: NOW - 5 } }), accept: false },
  { name: 'exp = now − tolerance + 1 (inside the leeway)', token: () => forge({ signer: s.es!, payload: { exp: NOW - 4 } }), accept: true, strictAccept: true },
  { name: 'exp fractional', token: () => forge({ signer: s.es!, payload: { exp: NOW + 0.5 } }), accept: true, strictAccept: true },
  { name: 'exp a string', token: () => forge({ signer: s.rs!, payload: { exp: String(NOW + 600) } }), accept: false },
  { name: 'exp null', token: () => forge({ signer: s.rs!, payload: { exp: null } }), accept: false },
  { name: 'exp 1e400 (Infinity)', token: () => forge({ signer: s.rs!, payload: `${b64(`{"iss":${JSON.stringify(issuer)},"aud":"${RESOURCE}","sub":"u","client_id":"c","iat":${NOW},"jti":"j","exp":1e400}`)}` }), accept: false },
  { name: 'nbf in the future beyond leeway', token: () => forge({ signer: s.rs!, payload: { nbf: NOW + 6 } }), accept: false },
  { name: 'nbf = now + tolerance (accepted)', token: () => forge({ signer: s.rs!, payload: { nbf: NOW + 5 } }), accept: true, strictAccept: true },
  { name: 'nbf a string', token: () => forge({ signer: s.rs!, payload: { nbf: String(NOW) } }), accept: false },
  { name: 'iat in the future (issued after now + tolerance)', token: () => forge({ signer: s.rs!, payload: { iat: NOW + 3600 } }), accept: false },
  { name: 'iat a string', token: () => forge({ signer: s.rs!, payload: { iat: String(NOW) } }), accept: false },
  { name: 'iat missing', token: () => forge({ signer: s.rs!, payload: { iat: undefined } }), accept: true, strictAccept: false },

  // Issuer and audience.
  { name: 'wrong iss', token: () => forge({ signer: s.rs!, payload: { iss: 'https://evil.example' } }), accept: false },
  { name: 'iss with a trailing slash', token: () => forge({ signer: s.rs!, payload: { iss: `${issuer}/` } }), accept: false },
  { name: 'iss missing', token: () => forge({ signer: s.rs!, payload: { iss: undefined } }), accept: false },
  { name: 'iss an array', token: () => forge({ signer: s.rs!, payload: { iss: [issuer] } }), accept: false },
  { name: 'wrong aud', token: () => forge({ signer: s.rs!, payload: { aud: 'https://other.example/mcp' } }), accept: false },
  { name: 'aud missing', token: () => forge({ signer: s.rs!, payload: { aud: undefined } }), accept: false },
  { name: 'aud array containing the resource', token: () => forge({ signer: s.es!, payload: { aud: ['https://other.example', RESOURCE] } }), accept: true, strictAccept: true },
  { name: 'aud array without the resource', token: () => forge({ signer: s.es!, payload: { aud: ['https://other.example'] } }), accept: false },
  { name: 'aud with a trailing slash', token: () => forge({ signer: s.es!, payload: { aud: `${RESOURCE}/` } }), accept: false },
  { name: 'aud a number', token: () => forge({ signer: s.es!, payload: { aud: 1 } }), accept: false },

  // RFC 9068 claims (strict mode only).
  { name: 'sub missing', token: () => forge({ signer: s.rs!, payload: { sub: undefined } }), accept: true, strictAccept: false },
  { name: 'jti missing', token: () => forge({ signer: s.rs!, payload: { jti: undefined } }), accept: true, strictAccept: false },
  { name: 'client_id not a string', token: () => forge({ signer: s.rs!, payload: { client_id: 5 } }), accept: true, strictAccept: false },
];

type Outcome = { ok: true } | { ok: false; reason: string };

async function outcome(p: Promise<unknown>): Promise<Outcome> {
  try {
    await p;
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: err instanceof McpAuthError ? err.reason : `non-guard error ${(err as Error).name}` };
  }
}

function setup(strict: boolean): { config: Config; keys: RemoteKeySet } {
  const config = resolveOptions({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, strict, clock: () => NOW * 1000 });
  const keys = new RemoteKeySet(async () => as.jwksUri, {
    algorithms: config.algorithms, timeoutMs: 2000, cooldownMs: 30_000, maxAgeMs: 600_000, maxStaleMs: 3_600_000, maxBytes: 262_144, clock: () => NOW * 1000, emit: undefined, issuer: config.issuer,
  });
  return { config, keys };
}

describe.each([false, true])('native signature path vs jose (strict %s)', (strict) => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const { config, keys } = setup(strict);
    const native = jwtVerifier(config, keys, { native: true });
    const viaJose = jwtVerifier(config, keys, { native: false });
    const token = c.token();
    const a = await outcome(native(token));
    const b = await outcome(viaJose(token));
    // Same decision, same reason, on both signature paths.
    expect(a).toEqual(b);
    expect(a.ok).toBe(strict ? (c.strictAccept ?? false) : c.accept);
    // Never more lenient than plain jose.jwtVerify with the same options and one key of the set
    // (the guard tries each candidate key of a kid-less token; jose alone refuses the ambiguity).
    if (a.ok) {
      const results = await Promise.allSettled(as.keys.map((jwk) => jwtVerify(token, createLocalJWKSet({ keys: [jwk] } as JSONWebKeySet), {
        algorithms: [...config.algorithms], issuer: config.issuer, audience: [...config.audiences],
        clockTolerance: config.clockTolerance, currentDate: new Date(NOW * 1000), requiredClaims: ['exp', 'iss', 'aud'],
      })));
      expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
    }
    keys.close();
  });
});

test('the native path is the one taken for every family (the differential compares two paths)', async () => {
  const jwks = createLocalJWKSet({ keys: as.keys } as JSONWebKeySet);
  for (const [signer, alg] of [[s.rs!, 'RS256'], [s.rsNoAlg!, 'RS384'], [s.rsNoAlg!, 'PS256'], [s.ps!, 'PS256'], [s.es!, 'ES256'], [s.es384!, 'ES384'], [s.ed!, 'EdDSA']] as const) {
    const key = await jwks({ alg, kid: signer.kid }, { payload: '', signature: '' });
    expect(nativeKey(alg, key)).toBeDefined();
  }
  // And it declines what it must leave to jose: a weak RSA key, a key imported for another algorithm.
  const weak = await createLocalJWKSet({ keys: [{ ...s.weak!.publicJwk }] } as JSONWebKeySet)({ alg: 'RS256', kid: 'weak' }, { payload: '', signature: '' }).catch(() => undefined);
  if (weak !== undefined) expect(nativeKey('RS256', weak)).toBeUndefined();
  const rsKey = await jwks({ alg: 'RS256', kid: 'rs' }, { payload: '', signature: '' });
  expect(nativeKey('PS256', rsKey)).toBeUndefined();
  expect(nativeKey('ES256', rsKey)).toBeUndefined();
  expect(nativeKey('HS256', rsKey)).toBeUndefined();
});
