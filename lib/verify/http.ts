/**
 * Bounded HTTP for the authorization server's documents: a timeout, a size cap, no redirects
 * followed (a 3xx is a failure), JSON only. Used for JWKS fetches and (through openid-client's `customFetch`)
 * for discovery.
 */
import { setMaxListeners } from 'node:events';
import { McpAuthError } from '../errors.js';

/**
 * Why a fetch failed, for events and `cause`. `code`: the system error code found down the cause
 * chain of a network failure (`ECONNREFUSED`, `ENOTFOUND`, `CERT_HAS_EXPIRED`, …), when there is one.
 */
export class FetchFailure extends Error {
  readonly code: string | undefined;

  constructor(
    readonly kind: 'timeout' | 'network' | 'status' | 'too_large' | 'not_json',
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FetchFailure';
    this.code = systemCode(options?.cause);
  }
}

/** The first string `code` down a cause chain (undici puts the socket's error under `cause`). */
function systemCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * A short, token-free description of a failure, for events and diagnostics: the fetch's kind
 * (`http_<status>` for a status), a guard error's stable `reason` (e.g. `discovery_failed` when no
 * JWKS URI could be learnt), else the error's code or name.
 */
export function describeFailure(err: unknown): string {
  if (err instanceof FetchFailure) return err.kind === 'status' ? `http_${err.status}` : err.kind;
  if (err instanceof McpAuthError) return err.reason;
  if (err instanceof Error) return (err as { code?: string }).code ?? err.name;
  return 'unknown';
}

/** {@link readCapped}, its failures as {@link FetchFailure}: `timeout` once `deadline` has fired, else `network`. */
export async function readBody(response: Response, maxBytes: number, deadline: AbortSignal): Promise<Uint8Array> {
  try {
    return await readCapped(response, maxBytes);
  } catch (err) {
    if (err instanceof FetchFailure) throw err;
    throw new FetchFailure(deadline.aborted ? 'timeout' : 'network', 'body read failed', undefined, { cause: err });
  }
}

/** Read a response body, refusing more than `maxBytes`. */
async function readCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw new FetchFailure('too_large', `response larger than ${maxBytes} bytes`);
  }
  if (!response.body) return new Uint8Array();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new FetchFailure('too_large', `response larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) { out.set(c, offset); offset += c.byteLength; }
  return out;
}

/**
 * An `AbortController` whose signal takes any number of listeners: a guard's long-lived signal has
 * one per call in progress ({@link linkedSignal}), each removed when its call ends, so more than
 * Node's default 10 is load, not a leak (it warned `MaxListenersExceededWarning` at 11 concurrent
 * introspections).
 */
export function unlimitedController(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}

/**
 * A per-call signal that aborts when `call` (optional, per call) or `lifetime` (the guard's, long
 * lived) does, and `release()`, which unhooks it from `lifetime` once the call is over. Never
 * `AbortSignal.any([…, lifetime])`: on Node 20 a source signal keeps a record of every signal made
 * from it, so a long-lived one grows with every call.
 */
export function linkedSignal(call: AbortSignal | null | undefined, lifetime: AbortSignal): { signal: AbortSignal; release: () => void } {
  const link = new AbortController();
  const onAbort = (): void => link.abort(lifetime.reason);
  if (lifetime.aborted) link.abort(lifetime.reason);
  else lifetime.addEventListener('abort', onAbort, { once: true });
  return {
    signal: call ? AbortSignal.any([call, link.signal]) : link.signal,
    release: () => lifetime.removeEventListener('abort', onAbort),
  };
}

/** `fetch` with a timeout (ms); network failures and timeouts become {@link FetchFailure}. */
export async function boundedFetch(url: string | URL, init: RequestInit, timeoutMs: number): Promise<Response> {
  const signal = init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
  try {
    return await fetch(url, { ...init, signal, redirect: 'manual' });
  } catch (err) {
    const name = (err as { name?: string } | null)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') throw new FetchFailure('timeout', `no answer within ${timeoutMs} ms`, undefined, { cause: err });
    const code = systemCode(err);
    throw new FetchFailure('network', code === undefined ? 'network error' : `network error (${code})`, undefined, { cause: err });
  }
}

/** GET a JSON document (status 200, at most `maxBytes`); `signal` aborts it (e.g. on close). */
export async function fetchJson(url: string, timeoutMs: number, maxBytes: number, signal?: AbortSignal): Promise<unknown> {
  const timer = AbortSignal.timeout(timeoutMs);
  const { signal: deadline, release } = signal ? linkedSignal(timer, signal) : { signal: timer, release: () => {} };
  let bytes: Uint8Array;
  try {
    const response = await boundedFetch(url, { headers: { accept: 'application/json' }, signal: deadline }, timeoutMs);
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      throw new FetchFailure('status', `HTTP ${response.status}`, response.status);
    }
    bytes = await readBody(response, maxBytes, deadline);
  } finally {
    release();
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new FetchFailure('not_json', 'response is not JSON', undefined, { cause: err });
  }
}
