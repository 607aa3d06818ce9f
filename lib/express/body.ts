/**
 * The JSON body a tool policy must read, under the same rules the MCP transport applies.
 *
 * Only `POST` bodies are examined (MCP messages come in `POST`s; the Streamable HTTP transport
 * executes no other method's body). With a policy:
 * - a body whose `Content-Type` is not JSON (`application/json` or `…+json`, UTF-8 if a charset is
 *   named), or that carries a `Content-Encoding`, → 415;
 * - a parser that left a string or a `Buffer` on `req.body` (`express.text()`, `express.raw()`) → 400:
 *   the guard cannot check what the transport would run, so it refuses rather than guessing;
 * - no parser ran: the body is read (at most `maxBodyBytes`; a larger `Content-Length` is refused
 *   before reading) → 413 when too large, 400 when not UTF-8 or not JSON; the parsed value is left on
 *   `req.body` (the object the policy checked, to hand to `transport.handleRequest(req, res, req.body)`)
 *   and the bytes on `req.rawBody` (which `@hono/node-server`, under the SDK's transport, reads when
 *   the stream is consumed); `req._body` is set, so body-parser 1.x parsers after the guard skip it.
 * A `POST` without a body passes (there is nothing to run), also when a body parser left `{}` on
 * `req.body`; a non-empty `req.body` set by a middleware on a bodiless `POST` is checked like a body.
 */
import type { Request } from 'express';
import { InvalidRequestError } from '../errors.js';

/** Reads the body when needed: `undefined` when done synchronously, else a promise; throws/rejects with an `InvalidRequestError`. */
export type BodyReader = (req: Request) => Promise<void> | undefined;

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Media type essence (lowercased `type/subtype`) and charset of a `Content-Type` value (RFC 9110
 * §8.3: `;` separates parameters, a quoted value may hold `;` or `,`); `undefined` when there is
 * none, or for a list of types (a `,` outside quotes).
 */
export function mediaType(header: string | undefined): { essence: string; charset: string | undefined } | undefined {
  if (header === undefined) return undefined;
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const c = header[i]!;
    if (quoted) {
      if (c === '\\' && i + 1 < header.length) { current += c + header[++i]; continue; }
      if (c === '"') quoted = false;
      current += c;
    } else if (c === '"') { quoted = true; current += c; }
    else if (c === ',') return undefined;
    else if (c === ';') { parts.push(current); current = ''; }
    else current += c;
  }
  parts.push(current);
  const [head = '', ...params] = parts;
  const essence = head.trim().toLowerCase();
  if (essence === '' || !essence.includes('/')) return undefined;
  let charset: string | undefined;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq !== -1 && p.slice(0, eq).trim().toLowerCase() === 'charset') charset = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return { essence, charset };
}

/** True for `application/json` and `application/…+json`. */
export function isJsonEssence(essence: string | undefined): boolean {
  return essence === 'application/json' || (essence !== undefined && essence.startsWith('application/') && essence.endsWith('+json'));
}

/** Whether the request announces a body (`Transfer-Encoding`, or a `Content-Length` other than 0). */
export function hasBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Whether the request's body may be larger than `maxBytes`: a `Content-Length` over it, or
 * `Transfer-Encoding` (its length unknown).
 */
export function bodyMayExceed(req: Request, maxBytes: number): boolean {
  return req.headers['transfer-encoding'] !== undefined || declaredOver(req, maxBytes);
}

/** A `Content-Length` over `maxBytes`. */
function declaredOver(req: Request, maxBytes: number): boolean {
  return Number(req.headers['content-length']) > maxBytes;
}

function unreadable(cause: unknown): InvalidRequestError {
  return new InvalidRequestError({ reason: 'invalid_body', description: 'The request body could not be read', cause });
}

function unsupported(description: string): InvalidRequestError {
  return new InvalidRequestError({ reason: 'unsupported_media_type', description }, 415);
}

function tooLarge(max: number): InvalidRequestError {
  return new InvalidRequestError({ reason: 'body_too_large', description: `The request body exceeds ${max} bytes` }, 413);
}

function readAll(req: Request, max: number): Promise<Buffer> {
  const raw = (req as unknown as { rawBody?: unknown }).rawBody;
  if (Buffer.isBuffer(raw)) return raw.length > max ? Promise.reject(tooLarge(max)) : Promise.resolve(raw);
  // The client went away before (its stream closed already: no 'close' will come again, and
  // Node dropped what was buffered, a body received in full included).
  if (req.destroyed) {
    return Promise.reject(unreadable(new Error('request aborted')));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer | string): void => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      size += b.length;
      if (size > max) {
        cleanup();
        // Discard the rest so the connection stays usable; nothing of it is kept.
        req.resume();
        reject(tooLarge(max));
        return;
      }
      parts.push(b);
    };
    const onEnd = (): void => { cleanup(); resolve(Buffer.concat(parts, size)); };
    const onError = (err: unknown): void => { cleanup(); reject(unreadable(err)); };
    const onClose = (): void => { if (!req.readableEnded) onError(new Error('request aborted')); };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function isEmptyPlainObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype && Object.keys(value).length === 0;
}

/**
 * Build the body reader of a guard with a policy.
 *
 * @param maxBodyBytes largest body read (option `maxBodyBytes`, default 4 MiB like the MCP SDK).
 */
export function makeBodyReader(maxBodyBytes: number): BodyReader {
  return function readPolicyBody(req: Request): Promise<void> | undefined {
    if (req.method !== 'POST') return undefined;
    const body = req.body as unknown;
    const raw = (req as unknown as { rawBody?: unknown }).rawBody;
    // Unread: no parser consumed the stream, whatever `req.body` holds (Express 4 parsers set `{}`
    // on requests they skip), so the transport could still read it: the guard reads it first.
    const unread = hasBody(req) && !req.readableEnded && !Buffer.isBuffer(raw);
    // A POST without a body has nothing to check (Express 4 parsers leave `{}` on it); a body some
    // middleware put on `req.body` without one on the wire is checked like any other.
    if (!hasBody(req) && !Buffer.isBuffer(raw) && (body === undefined || isEmptyPlainObject(body))) return undefined;
    if (body === undefined && !unread && !Buffer.isBuffer(raw)) {
      throw new InvalidRequestError({ reason: 'invalid_body', description: 'The request body was consumed before the guard could read it' });
    }
    const type = mediaType(req.headers['content-type']);
    if (!type || !isJsonEssence(type.essence)) throw unsupported('With a tool policy, request bodies must be JSON (Content-Type: application/json)');
    if (type.charset !== undefined && type.charset !== 'utf-8' && type.charset !== 'utf8') throw unsupported('JSON bodies must be UTF-8');
    if (!unread && body !== undefined) {
      if (typeof body === 'string' || body instanceof Uint8Array) {
        throw new InvalidRequestError({ reason: 'invalid_body', description: 'A body parser left the JSON body unparsed: use express.json(), or no parser, before protect()' });
      }
      return undefined;
    }
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') throw unsupported('Compressed request bodies are not accepted');
    if (declaredOver(req, maxBodyBytes)) throw tooLarge(maxBodyBytes);
    return readAll(req, maxBodyBytes).then((bytes) => {
      if (!('rawBody' in req)) Object.defineProperty(req, 'rawBody', { value: bytes, writable: true, configurable: true, enumerable: false });
      // body-parser 1.x (Express 4) skips a request marked parsed instead of waiting on a consumed stream.
      (req as unknown as { _body?: boolean })._body = true;
      let text: string;
      try {
        text = fatalUtf8.decode(bytes);
      } catch (err) {
        throw new InvalidRequestError({ reason: 'invalid_body', description: 'The request body is not UTF-8', cause: err });
      }
      if (text.trim() === '') return;
      try {
        req.body = JSON.parse(text) as unknown;
      } catch (err) {
        throw new InvalidRequestError({ reason: 'invalid_body', description: 'The request body is not valid JSON', cause: err });
      }
    });
  };
}
