/**
 * List filtering at the HTTP layer: for an allowed request whose body makes `tools/list` (or, under
 * `promptScopes` / `resourceScopes`, `prompts/list` / `resources/list` and
 * `resources/templates/list`; under `toolScopes`,
 * `tasks/list`) calls, the response is rewritten so that the answers list only what the token may
 * use; answers to task-creating `tools/call` calls are read (not changed) for the tasks they
 * create (`Policy.tasksCreated`). Works with whatever MCP server
 * answers, by wrapping `res.writeHead`, `res.write`, `res.end` and `res.flushHeaders`:
 *
 * - `application/json` (or `…+json`) 2xx answers are held until `end()`, filtered, and sent with a
 *   corrected `Content-Length` (a stale `ETag` is dropped);
 * - `text/event-stream` answers stream on: each complete event is forwarded at once, rewritten only
 *   when it answers a pending list call; once every list call is answered the wrapper steps aside;
 * - anything else (other statuses or types) passes untouched.
 *
 * An answer that cannot be parsed (not UTF-8, not JSON, a compressed body, an unexpected shape, more
 * than {@link MAX_HELD_BYTES} held) is passed through unchanged, never corrupted, and reported as a
 * `list_unfiltered` event.
 *
 * A `GET` that resumes a stream (`Last-Event-ID`) gets events the server stored for requests made
 * on an earlier connection, whose ids are not known here: on it, every list answer is told by its
 * shape (`listCallsByShape`) and filtered the same way, for as long as the stream lasts. Not
 * filtered: list answers on other requests' streams.
 */
import type { Request, Response } from 'express';
import type { GuardEvent, ListUnfilteredReason } from '../events.js';
import { filterPayload, settle, type FilterOutcome, type KeepEntry, type ListCalls, type WatchedMethod } from '../policy/lists.js';
import { EventEnd, eventData, retryLines, SseSplitter, withEventData } from '../policy/sse.js';
import type { Policy } from '../policy/tools.js';
import type { AuthInfo } from '../types.js';
import { isJsonEssence, mediaType } from './body.js';
import { headerOf, headersIndex, writeHeadHeaders, type Headers } from './head.js';

/** Largest answer parsed for filtering (a JSON body, or one SSE event, however it was written), in bytes. */
export const MAX_HELD_BYTES = 16 * 1024 * 1024;

/** Installs the filter on a response when the request makes list calls, or resumes a stream (`GET` with `Last-Event-ID`). */
export type ListFilter = (req: Request, res: Response, auth: AuthInfo) => void;

const utf8 = new TextDecoder('utf-8', { fatal: true });

type Callback = (err?: Error | null) => void;
/** `json` and `sse-held` hold the whole answer (its length is declared, so it must be rewritten whole); `sse` streams. */
type Mode = 'undecided' | 'json' | 'sse-held' | 'sse' | 'pass';

/** `writeHead` headers without some names (as an object; arrays keep their form). */
function withoutHeaders(headers: Headers, names: readonly string[]): Headers {
  if (!headers) return headers;
  if (Array.isArray(headers)) {
    if (Array.isArray(headers[0])) return (headers as unknown[][]).filter(([k]) => !(typeof k === 'string' && names.includes(k.toLowerCase())));
    const out: unknown[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const k = headers[i];
      if (!(typeof k === 'string' && names.includes(k.toLowerCase()))) out.push(k, headers[i + 1]);
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(headers)) if (!names.includes(k.toLowerCase())) out[k] = headers[k];
  return out;
}

function addHeader(headers: Headers, name: string, value: string): Headers {
  if (!headers) return { [name]: value };
  if (Array.isArray(headers)) return Array.isArray(headers[0]) ? [...headers, [name, value]] : [...headers, name, value];
  return { ...headers, [name]: value };
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (chunk === undefined || chunk === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
}

/**
 * Build the list filter of a guard.
 *
 * @param policy the compiled policy (decides which calls are list calls and which entries stay).
 * @param emit optional event sink for `list_unfiltered`.
 */
export function makeListFilter(policy: Policy, emit?: (event: GuardEvent) => void): ListFilter {
  // One marker per guard: its protect() twice on a route wraps the response once, while a second
  // guard on the same route (another policy) wraps it too, so each guard's filter applies.
  const INSTALLED = Symbol('mcp-oauth-guard.list-filter');
  return function installListFilter(req: Request, res: Response, auth: AuthInfo): void {
    const replay = req.method === 'GET' && req.headers['last-event-id'] !== undefined && policy.filteredLists.length > 0;
    const calls = replay ? undefined : policy.listCalls(req.body);
    if (!replay && !calls) return;
    const marked = res as unknown as Record<symbol, unknown>;
    if (marked[INSTALLED]) return;
    marked[INSTALLED] = true;
    // The filter reads the answer as the handler wrote it: ask a compressor mounted after protect()
    // (`compression`) for none, or any client could get the list unfiltered by asking for gzip.
    req.headers['accept-encoding'] = 'identity';
    const matcher = calls ? byIds(calls) : byShape(policy.filteredLists, policy.replayedListCalls);
    wrap(res, matcher, (method, entry) => policy.allows(method, entry, auth), (outcome) => {
      if (outcome.tasks.length > 0) policy.tasksCreated(outcome.tasks, auth);
    }, emit);
  };
}

/** How a filter finds the answers it looks at in what the server writes. */
interface Matcher {
  /** The methods a `list_unfiltered` event names. */
  readonly methods: readonly WatchedMethod[];
  /** The calls a payload answers, or `undefined` when it answers none. */
  callsIn(payload: unknown): ListCalls | undefined;
  /** A payload gave these answers. */
  answered(keys: readonly string[]): void;
  /** No answer is due any more: the filter may step aside. */
  done(): boolean;
  /**
   * The answer is a stream that lasts (a resumed `GET`): every event that goes out unfiltered is
   * reported, and an event too large to hold is let through alone instead of the filter stepping aside.
   */
  readonly lasting: boolean;
}

/** The answers to the calls of this request, by their JSON-RPC ids. */
function byIds(calls: ListCalls): Matcher {
  return {
    methods: [...new Set([...calls.values()].flatMap((c) => c.methods))],
    callsIn: () => calls,
    answered: (keys) => settle(calls, keys),
    done: () => calls.size === 0,
    lasting: false,
  };
}

/** On a resumed stream: every list answer, told by its shape (its request was made on an earlier connection). */
function byShape(methods: readonly WatchedMethod[], callsIn: (payload: unknown) => ListCalls | undefined): Matcher {
  return { methods, callsIn, answered: () => undefined, done: () => false, lasting: true };
}

/** `seen`: called with the outcome of every payload filtered (the tasks it created). */
function wrap(res: Response, m: Matcher, keep: KeepEntry, seen: (outcome: FilterOutcome) => void, emit: ((event: GuardEvent) => void) | undefined): void {
  const orig = { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders };
  const call = {
    writeHead: orig.writeHead as unknown as (...args: unknown[]) => Response,
    write: orig.write as unknown as (...args: unknown[]) => boolean,
    end: orig.end as unknown as (...args: unknown[]) => Response,
    flushHeaders: orig.flushHeaders as unknown as () => void,
  };
  let mode: Mode = 'undecided';
  let head: unknown[] | undefined;
  let held: Buffer[] = [];
  let heldBytes = 0;
  const sse = new SseSplitter();
  let reported = false;

  /** Once per answer; on a resumed stream, which lasts, once per event that goes unfiltered. */
  function report(reason: ListUnfilteredReason): void {
    if ((reported && !m.lasting) || !emit) return;
    reported = true;
    for (const method of m.methods) emit({ type: 'list_unfiltered', method, reason });
  }

  /**
   * Step aside: put back what was there, each function only while it is still this filter's own.
   * A hook installed after it (a second guard's filter, `on-headers`, a compressor) wraps this
   * filter and stays; this filter's wrappers forward untouched once it is done.
   */
  function restore(): void {
    if (res.writeHead === writeHead) res.writeHead = orig.writeHead;
    if (res.write === write) res.write = orig.write;
    if (res.end === end) res.end = orig.end;
    if (res.flushHeaders === flushHeaders) res.flushHeaders = orig.flushHeaders;
  }

  function decide(status: number, headers: Headers): void {
    const type = mediaType(headerOf(res, headers, 'content-type'))?.essence;
    const json = isJsonEssence(type);
    const stream = type === 'text/event-stream';
    if (status < 200 || status >= 300 || status === 204 || (!json && !stream)) {
      mode = 'pass';
    } else if ((headerOf(res, headers, 'content-encoding') ?? 'identity').trim().toLowerCase() !== 'identity') {
      report('encoded');
      mode = 'pass';
    } else {
      // An SSE answer with a Content-Length (`@hono/node-server`, under the SDK's transport, sets one
      // when the stream is already complete) is held whole like a JSON one.
      mode = json ? 'json' : headerOf(res, headers, 'content-length') !== undefined ? 'sse-held' : 'sse';
    }
    if (mode === 'pass') restore();
  }

  function isHeld(): boolean {
    return mode === 'json' || mode === 'sse-held';
  }

  /** Give up on a held answer: send what is held, unchanged. */
  function releaseHeld(): void {
    mode = 'pass';
    restore();
    if (head) call.writeHead.apply(res, head);
    for (const b of held) call.write.call(res, b);
    held = [];
  }

  /** Whether the next SSE event is the stream's first (the only one whose leading BOM clients drop). */
  let firstEvent = true;

  function filterSseEvent(block: Buffer): Buffer {
    const first = firstEvent;
    firstEvent = false;
    if (block.length > MAX_HELD_BYTES) {
      // (A complete event can arrive in one write, whatever its size: not parsed either.)
      report('too_large');
      return block;
    }
    let data: string | undefined;
    try {
      data = eventData(block, first);
    } catch {
      report('unparseable');
      return block;
    }
    if (data === undefined || data.trim() === '') return block;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      report('unparseable');
      return block;
    }
    const calls = m.callsIn(parsed);
    if (calls === undefined) return block;
    const outcome = filterPayload(parsed, calls, keep);
    seen(outcome);
    m.answered(outcome.answered);
    if (outcome.unexpected.length > 0) report('unexpected_shape');
    return outcome.changed ? withEventData(block, JSON.stringify(outcome.payload), first) : block;
  }

  /** On a resumed stream: the rest of an event too large to hold, passed through as it comes. */
  let skipping: EventEnd | undefined;

  /**
   * SSE: forward complete events (filtered), hold the unfinished one. An unfinished event over
   * {@link MAX_HELD_BYTES} goes out unparsed: on an answer with list calls the filter then steps
   * aside; on a resumed stream only that event is let through, and the ones after it are filtered.
   */
  function sseChunk(buf: Buffer): Buffer {
    const out: Buffer[] = [];
    if (skipping) {
      const end = skipping.feed(buf);
      if (end === -1) return buf;
      skipping = undefined;
      out.push(buf.subarray(0, end));
      buf = buf.subarray(end);
    }
    for (const e of sse.push(buf)) out.push(filterSseEvent(e));
    if (m.done() || sse.pendingBytes > MAX_HELD_BYTES) {
      if (!m.done()) report('too_large');
      const held = sse.drain();
      if (m.lasting) {
        // Let this event through unparsed, and go on splitting after its end.
        const skip = new EventEnd();
        const end = skip.feed(held);
        if (end === -1) {
          skipping = skip;
          out.push(held);
        } else {
          out.push(held.subarray(0, end));
          for (const e of sse.push(held.subarray(end))) out.push(filterSseEvent(e));
        }
        firstEvent = false;
      } else {
        out.push(held);
        mode = 'pass';
        restore();
      }
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The rewritten SSE answer held whole, or `undefined` when no event changed. */
  function rewriteSse(body: Buffer): Buffer | undefined {
    const events = [...sse.push(body), ...sse.flush()];
    const out = events.map(filterSseEvent);
    // An incomplete event at the end is never dispatched (the SSE grammar): only its retry lines,
    // which a client applies anyway, are sent, so no list answer goes out unfiltered that way.
    const incomplete = sse.drain();
    const kept = retryLines(incomplete);
    out.push(kept);
    return kept.length !== incomplete.length || out.some((b, i) => i < events.length && b !== events[i]) ? Buffer.concat(out) : undefined;
  }

  function finishHeld(cb: Callback | undefined): Response {
    const body = held.length === 1 ? held[0]! : Buffer.concat(held);
    held = [];
    let out: Buffer | undefined;
    if (body.length > MAX_HELD_BYTES) {
      // Held whole through a last `end(chunk)` (how `res.json()` answers): too large to parse.
      report('too_large');
    } else if (mode === 'sse-held') {
      out = rewriteSse(body);
    } else if (body.length > 0) {
      try {
        const parsed = JSON.parse(utf8.decode(body)) as unknown;
        const outcome = filterPayload(parsed, m.callsIn(parsed) ?? new Map(), keep);
        seen(outcome);
        if (outcome.unexpected.length > 0) report('unexpected_shape');
        if (outcome.changed) out = Buffer.from(JSON.stringify(outcome.payload), 'utf8');
      } catch {
        report('unparseable');
      }
    }
    if (out) {
      const headArg = head ? headersIndex(head) : 0;
      const headers = head ? writeHeadHeaders(head) : undefined;
      // A Content-Length the answer had is corrected; an answer without one stays chunked (as Node
      // would send it), so trailers the handler adds still go out.
      const chunked = headerOf(res, headers, 'transfer-encoding') !== undefined || headerOf(res, headers, 'content-length') === undefined;
      res.removeHeader('ETag');
      if (chunked) res.removeHeader('Content-Length');
      if (head) {
        let next = withoutHeaders(headers, ['content-length', 'etag']);
        if (!chunked) next = addHeader(next, 'Content-Length', String(out.length));
        head = [...head.slice(0, headArg), next];
      } else if (!chunked) {
        res.setHeader('Content-Length', String(out.length));
      }
    }
    mode = 'pass';
    if (head) call.writeHead.apply(res, head);
    return call.end.call(res, out ?? body, cb);
  }

  function split(a: unknown, b: unknown): { encoding: unknown; cb: Callback | undefined } {
    if (typeof a === 'function') return { encoding: undefined, cb: a as Callback };
    return { encoding: a, cb: typeof b === 'function' ? (b as Callback) : undefined };
  }

  const writeHead = function listFilterWriteHead(this: Response, ...args: unknown[]): Response {
    if (mode === 'undecided') decide(Number(args[0]), writeHeadHeaders(args));
    if (isHeld()) {
      head = args;
      res.statusCode = Number(args[0]);
      return res;
    }
    return call.writeHead.apply(res, args);
  } as Response['writeHead'];

  const flushHeaders = function listFilterFlushHeaders(): void {
    if (mode === 'undecided') decide(res.statusCode, undefined);
    if (!isHeld()) call.flushHeaders.call(res);
  };

  const write = function listFilterWrite(chunk: unknown, a?: unknown, b?: unknown): boolean {
    if (mode === 'undecided') decide(res.statusCode, undefined);
    if (mode === 'pass') return call.write.call(res, chunk, a, b);
    const { encoding, cb } = split(a, b);
    const buf = toBuffer(chunk, encoding);
    if (isHeld()) {
      // Held past this call, whose callback comes at once: a copy (the caller may reuse its buffer).
      held.push(chunk instanceof Uint8Array ? Buffer.from(buf) : buf);
      heldBytes += buf.length;
      if (heldBytes > MAX_HELD_BYTES) {
        report('too_large');
        releaseHeld();
      }
      if (cb) process.nextTick(cb);
      return true;
    }
    const out = sseChunk(buf);
    if (out.length === 0) {
      if (cb) process.nextTick(cb);
      return true;
    }
    return call.write.call(res, out, cb);
  } as Response['write'];

  const end = function listFilterEnd(chunk?: unknown, a?: unknown, b?: unknown): Response {
    if (typeof chunk === 'function') { b = chunk; chunk = undefined; }
    if (mode === 'undecided') decide(res.statusCode, undefined);
    if (mode === 'pass') return call.end.call(res, chunk, a, b);
    const { encoding, cb } = split(a, b);
    const buf = toBuffer(chunk, encoding);
    restore();
    if (isHeld()) {
      held.push(buf);
      return finishHeld(cb);
    }
    // The incomplete event left (the stream ended in its middle, as when protect() ends it at a
    // refusal) is never dispatched: dropped rather than sent unfiltered, but its retry lines.
    const out = Buffer.concat([sseChunk(buf), ...sse.flush().map(filterSseEvent), retryLines(sse.drain())]);
    mode = 'pass';
    return out.length > 0 ? call.end.call(res, out, cb) : call.end.call(res, cb);
  } as Response['end'];

  res.writeHead = writeHead;
  res.flushHeaders = flushHeaders;
  res.write = write;
  res.end = end;
}
