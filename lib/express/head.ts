/** The headers argument of `res.writeHead`, read without Express. */

/** `writeHead`'s headers argument: an object, a flat array, or an array of pairs. */
export type Headers = Record<string, unknown> | unknown[] | undefined;

/**
 * Where `writeHead(status, [statusMessage,] headers)`'s headers argument is, as Node reads it: 2
 * after a status message, and also when the third is neither `undefined` nor `null`
 * (`writeHead(200, undefined, headers)`: Node takes it whatever the second is); else 1.
 */
export function headersIndex(args: readonly unknown[]): 1 | 2 {
  return typeof args[1] === 'string' || (args[2] !== undefined && args[2] !== null) ? 2 : 1;
}

/** `writeHead`'s headers argument, from its arguments. */
export function writeHeadHeaders(args: readonly unknown[]): Headers {
  return args[headersIndex(args)] as Headers;
}

/**
 * A header from `writeHead`'s headers argument (`name` lower-case): the last one of that name, in
 * any case, as Node keeps it (it sets each in turn when headers were set on `res` before).
 */
function fromHeaders(headers: Headers, name: string): string | undefined {
  if (!headers) return undefined;
  let found: string | undefined;
  if (Array.isArray(headers)) {
    const pairs = Array.isArray(headers[0]) ? (headers as unknown[][]) : [];
    if (pairs.length === 0) for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]]);
    for (const [k, v] of pairs) if (typeof k === 'string' && k.toLowerCase() === name) found = String(v);
    return found;
  }
  for (const k of Object.keys(headers)) if (k.toLowerCase() === name && headers[k] !== undefined) found = String(headers[k]);
  return found;
}

/** A header of a response about to be written: from `writeHead`'s argument, else as set on `res`. */
export function headerOf(res: { getHeader(name: string): unknown }, headers: Headers, name: string): string | undefined {
  const v = fromHeaders(headers, name);
  if (v !== undefined) return v;
  const h = res.getHeader(name);
  return h === undefined ? undefined : Array.isArray(h) ? h.join(', ') : String(h);
}
