/**
 * Long-lived streams end with their token. A `GET` stream (Streamable HTTP) or a 2026-07-28
 * `subscriptions/listen` answer is one request that may stay open for hours, carrying messages
 * (task results, resource updates) long after the token that opened it expired. A response cannot
 * be refused halfway, so the guard ends it instead: the first write (or `end(data)`) at or after
 * the instant the guard stops accepting the token (`exp` + `clockTolerance`, the injected clock)
 * ends the response without that data, and every later write or `end` is dropped (their callbacks
 * still run). No timer: a stream that writes nothing sends nothing either, and keep-alives count
 * as writes. The client opens it again with its current token, which the guard checks again.
 *
 * An introspected token is also asked about again (`lib/verify/recheck.ts`): the first write once
 * its introspection answer is older than `cacheMaxAgeSeconds` or has reached its `exp` (or was
 * given later than now: a clock stepped back) starts the check, and that write and every later one
 * (an `end` included) are held, in order, until the answer (past the response's
 * `writableHighWaterMark` of held bytes, `write()` returns `false`, as for a slow client, and
 * 'drain' follows the answer, also one that ends the stream, so a writer waiting for it, a
 * compressor's paused stream, finishes; unless a hook before this module routes 'drain' listeners
 * elsewhere, as `compression` does to its zlib stream: a 'drain' emitted here would not reach
 * them, so the writer is not slowed). If it keeps the stream going, they go
 * out on it, and the stream runs until the new answer's `exp` + `clockTolerance` (no `exp`: no end
 * by time), next asked about when that answer is as old or at its `exp`; if not, they are dropped
 * and the stream ends as above, or, when an `end` was held (the application, and any hook after
 * this module, have ended already), with that `end`, without its data. The data a later hook hands
 * to this module's own `end` (what a list filter still held) is dropped too.
 *
 * Only for `text/event-stream` answers (the type as set on `res` or given to `writeHead`): a
 * `GET` of anything else (a download behind an app-wide `protect()`) is left alone, and so is a
 * POST's answer unless it is a listen (a tool call's result is due to the token that made the
 * call, valid when it was made). Whether it applies is decided at the first write, when a body
 * parser mounted after `protect()` has run. State lives in this closure, never in which function
 * `res.write` is: hooks installed after it (a compressor, a byte counter) keep calling it.
 */
import { EventEmitter } from 'node:events';
import type { Response } from 'express';
import type { StreamEndReason } from '../events.js';
import type { AnswerSpan, Recheck, StreamRecheck } from '../verify/recheck.js';
import { mediaType } from './body.js';
import { headerOf, writeHeadHeaders, type Headers } from './head.js';

type Fn = (...args: unknown[]) => unknown;

/** The callback among a `write`/`end` call's arguments. */
function callbackOf(args: unknown[]): (() => void) | undefined {
  return args.find((a) => typeof a === 'function') as (() => void) | undefined;
}

/** Run a dropped `write`/`end` call's callback as Node would, on the next tick. */
function settle(args: unknown[]): void {
  const cb = callbackOf(args);
  if (cb) process.nextTick(cb);
}

/** The bytes of a `write(chunk, encoding?, cb?)` call's chunk. */
function byteLength(args: unknown[]): number {
  const [chunk, encoding] = args;
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' && Buffer.isEncoding(encoding) ? encoding : 'utf8');
  return ArrayBuffer.isView(chunk) ? chunk.byteLength : 0;
}

/**
 * Whether a 'drain' emitted on `res` reaches whoever listens for it: `res.on`, `once` and
 * `addListener` are the emitter's own (a hook such as `compression` replaces `res.on` and puts
 * 'drain' listeners on its zlib stream).
 */
function drainListenersOnResponse(res: Response): boolean {
  const own = EventEmitter.prototype;
  return res.on === own.on && res.once === own.once && res.addListener === own.addListener;
}

/** What `endStreamWithToken` watches. */
interface StreamWatch {
  /** What the stream relies on (ms, `clock`'s): with a JWT, its `exp` + `clockTolerance` alone. */
  span: AnswerSpan;
  clock: () => number;
  /** Whether the answer is one to watch (asked at its first write: a listen, a GET). */
  applies: () => boolean;
  /** Called once when this module ends the stream (for the `stream_ended` event). */
  ended: (reason: StreamEndReason) => void;
  /** With an introspected token: how to ask about it again. */
  recheck?: StreamRecheck['run'] | undefined;
}

/** A `write` or `end` held while the token is asked about again. */
interface Held { end: boolean; args: unknown[] }

/**
 * End `res` (when `applies()` and it is an event stream) at its first write or `end(data)` at or
 * after `span.expiresAtMs`, or when asking about its token again does not keep it going.
 */
export function endStreamWithToken(res: Response, watch: StreamWatch): void {
  const { clock, applies, ended, recheck } = watch;
  /** The span this stream relies on now. */
  let span = watch.span;
  const orig = { writeHead: res.writeHead as unknown as Fn, write: res.write as unknown as Fn, end: res.end as unknown as Fn };
  /** The headers given to `writeHead` (Node sends them without setting them on `res`). */
  let headHeaders: Headers;
  /** Decided at the first write: whether this answer is watched at all. */
  let watched: boolean | undefined;
  /**
   * `open`; `ending`: this module is ending it (its own `end` passes, through any later hook);
   * `ended` by this module; `done`: the application ended it itself (then everything passes, as
   * without this module).
   */
  let state: 'open' | 'ending' | 'ended' | 'done' = 'open';
  /** While the token is asked about again: the writes and `end` made meanwhile, in order. */
  let held: Held[] | undefined;
  /** The bytes of the writes held. */
  let heldBytes = 0;
  /** Whether held writes may answer `false` (a 'drain' from here reaches the writer: decided before any later hook). */
  const slows = drainListenersOnResponse(res);
  /** Whether anybody still waits for this stream's answer (a recheck waiting for a slot is given up otherwise). */
  const clientStays = (): boolean => !res.destroyed;

  function isWatched(): boolean {
    if (watched === undefined) {
      watched = mediaType(headerOf(res, headHeaders, 'content-type'))?.essence === 'text/event-stream' && applies();
    }
    return watched;
  }

  /** End it from a write: through `res.end()`, so hooks installed after this module (a compressor) finish too. */
  function expire(reason: StreamEndReason): void {
    state = 'ending';
    ended(reason);
    res.end();
  }

  /**
   * End it from an `end` call (made by the application or a hook after this module, which has
   * ended already: its `end` would do nothing again): here, without the call's data.
   */
  function expireAtEnd(reason: StreamEndReason, args: unknown[]): Response {
    state = 'ended';
    ended(reason);
    settle(args);
    return orig.end.apply(res, []) as Response;
  }

  /**
   * Before a watched write or `end(data)` while open: `'pass'`, `'hold'` (asking again: the caller
   * queues it), or why it ends here.
   */
  function gate(): 'pass' | 'hold' | { reason: StreamEndReason } {
    if (held !== undefined) return 'hold';
    const now = clock();
    if (now >= span.expiresAtMs) return { reason: 'token_expired' };
    // (A JWT's stream: nothing to ask.)
    if (recheck === undefined) return 'pass';
    // (Before the answer came: the clock stepped back, and the cache no longer holds the answer.)
    if (now <= span.askAgainAtMs && now >= span.answeredAtMs) return 'pass';
    // The client has left: the write goes nowhere, and nobody need be asked.
    if (res.destroyed) return 'pass';
    const r = recheck(clientStays);
    if (r instanceof Promise) {
      held = [];
      // (A write that throws while released, bad arguments to `write`, must not become an unhandled
      // rejection: the answer is cut instead.)
      r.then(release, () => release({ reason: 'recheck_failed' })).catch(() => res.destroy());
      return 'hold';
    }
    if ('reason' in r) return r;
    span = r;
    return 'pass';
  }

  /**
   * The answer came: send what was held, in order, on it, or drop it and end. (Nothing changes the
   * state while writes are held.) The held writes are not asked about again: an answer given
   * between `exp` and `exp` + `clockTolerance` is past its `askAgainAtMs` at once, and each later
   * write asks, as each request does then.
   */
  function release(answer: Recheck): void {
    const queue = held!;
    held = undefined;
    // (Whether a held write was answered `false`: then 'drain' follows.)
    const drain = slows && heldBytes >= res.writableHighWaterMark;
    heldBytes = 0;
    if (res.destroyed) {
      for (const h of queue) settle(h.args);
      state = 'done';
      return;
    }
    // (A clock that went past the new answer's exp meanwhile: it ends as it would at a write.)
    const r: Recheck = 'reason' in answer || clock() < answer.expiresAtMs ? answer : { reason: 'token_expired' };
    if ('reason' in r) {
      const end = queue.find((h) => h.end);
      for (const h of queue) if (h !== end) settle(h.args);
      if (end === undefined) expire(r.reason);
      else expireAtEnd(r.reason, end.args);
      // (A writer waiting for it, a compressor's paused stream, then finishes into the ended
      // answer, its writes dropped: without it, it would wait forever.)
      if (drain) emitDrain();
      return;
    }
    span = r;
    /** Whether the layer beneath answered a released write `false`: then it owes the 'drain' (Node, once the socket drains). */
    let full = false;
    for (const h of queue) {
      if (!h.end) {
        if (orig.write.apply(res, h.args) === false) full = true;
        continue;
      }
      state = 'done';
      orig.end.apply(res, h.args);
    }
    // (Node counts a string's characters, the held bytes counted more: it may owe none, and then
    // it comes from here. Ended: nobody waits.)
    if (drain && !full && !res.writableEnded) emitDrain();
  }

  /** 'drain', on the next tick, as Node emits it: outside this promise chain (a listener that throws is not swallowed). */
  function emitDrain(): void {
    process.nextTick(() => res.emit('drain'));
  }

  function streamWrite(args: unknown[]): boolean {
    if (state === 'done' || (state === 'open' && !isWatched())) return orig.write.apply(res, args) as boolean;
    if (state === 'open') {
      const g = gate();
      if (g === 'pass') return orig.write.apply(res, args) as boolean;
      if (g === 'hold') {
        held!.push({ end: false, args });
        // As a slow client would: past the response's highWaterMark, a writer that honours `false`
        // waits for 'drain', which follows the answer; what it writes meanwhile is held too.
        heldBytes += byteLength(args);
        return !slows || heldBytes < res.writableHighWaterMark;
      }
      expire(g.reason);
    }
    // Past the token's life: this write and every later one are dropped. `true`: no 'drain' will
    // follow, and a writer that waits for one (a compressor's paused stream) would never end.
    settle(args);
    return true;
  }

  function streamEnd(args: unknown[]): Response {
    if (state === 'done') return orig.end.apply(res, args) as Response;
    if (state === 'ending') {
      // This module's own end, through any later hook: without data a later hook flushes into it
      // (what a list filter held of an event is not sent after the refusal).
      state = 'ended';
      const cb = callbackOf(args);
      return orig.end.apply(res, cb === undefined ? [] : [cb]) as Response;
    }
    if (state === 'ended') {
      // (An end after this module ended the answer would be a write after end: an 'error' event.)
      settle(args);
      return res;
    }
    if (held !== undefined) {
      held.push({ end: true, args });
      return res;
    }
    const data = args[0] !== undefined && args[0] !== null && typeof args[0] !== 'function';
    if (data && isWatched()) {
      const g = gate();
      if (g === 'hold') {
        held!.push({ end: true, args });
        return res;
      }
      // The last event, past what the guard accepts: the answer ends without it.
      if (g !== 'pass') return expireAtEnd(g.reason, args);
    }
    state = 'done';
    return orig.end.apply(res, args) as Response;
  }

  res.writeHead = function streamExpiryWriteHead(this: Response, ...args: unknown[]): Response {
    headHeaders = writeHeadHeaders(args);
    return orig.writeHead.apply(res, args) as Response;
  } as Response['writeHead'];

  res.write = function streamExpiryWrite(this: Response, ...args: unknown[]): boolean {
    return streamWrite(args);
  } as Response['write'];

  res.end = function streamExpiryEnd(this: Response, ...args: unknown[]): Response {
    return streamEnd(args);
  } as Response['end'];
}
