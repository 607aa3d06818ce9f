/**
 * Hand-made compact JWS for hostile tokens `jose` refuses to produce (`crit`, `exp: 1e400`, odd
 * headers): the header and the payload are taken as given (objects are JSON-serialized, strings
 * are used verbatim) and signed with node:crypto.
 */
import { createHmac, KeyObject, sign as cryptoSign } from 'node:crypto';
import type { TestKey } from './keys.js';

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Sign `header.payload` with the test key (RS256, PS256, ES256, ES384, EdDSA by the key's alg). */
export function signCompact(key: TestKey, header: unknown, payload: unknown): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const keyObject = KeyObject.from(key.privateKey);
  let signature: Buffer;
  switch (key.alg) {
    case 'RS256': signature = cryptoSign('sha256', Buffer.from(input), keyObject); break;
    case 'PS256': signature = cryptoSign('sha256', Buffer.from(input), { key: keyObject, padding: 6, saltLength: 32 }); break;
    case 'ES256': signature = cryptoSign('sha256', Buffer.from(input), { key: keyObject, dsaEncoding: 'ieee-p1363' }); break;
    case 'ES384': signature = cryptoSign('sha384', Buffer.from(input), { key: keyObject, dsaEncoding: 'ieee-p1363' }); break;
    case 'EdDSA': signature = cryptoSign(null, Buffer.from(input), keyObject); break;
    default: throw new Error(`unsupported test alg ${key.alg}`);
  }
  return `${input}.${signature.toString('base64url')}`;
}

/** HS256 over `header.payload` with an arbitrary secret (e.g. the RSA public key's PEM). */
export function signHmac(secret: string | Buffer, header: unknown, payload: unknown): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** An unsigned token (`alg: none` style): header.payload. plus an optional signature part. */
export function unsigned(header: unknown, payload: unknown, signature = ''): string {
  return `${b64(header)}.${b64(payload)}.${signature}`;
}
