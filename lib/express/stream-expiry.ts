/**
 * Long-lived streams end with their token. A `GET` stream (Streamable HTTP) or a 2026-07-28
 * `subscriptions/listen` answer is one request that may stay open for hours, carrying messages
 * (task results, resource updates) long after the token that opened it expired. The guard cannot
 * re-check a request, so it ends its stream instead: the first write (or `end(data)`) at or after
 * the instant the guard stops accepting the token (`exp` + `clockTolerance`, the injected clock)
 * ends the response without that data, and every later write or `end` is dropped (their callbacks
 * still run). No timer: a stream that writes nothing sends nothing either, and keep-alives count
 * as writes. The client opens it again with its current token, which the guard checks again.
 *
 * Only for `text/event-stream` answers (the type as set on `res` or given to `writeHead`): a
 * `GET` of anything else (a download behind an app-wide `protect()`) is left alone, and so is a
 * POST's answer unless it is a listen (a tool call's result is due to the token that made the
 * call, valid when it was made). Whether it applies is decided at the first write, when a body
 * parser mounted after `protect()` has run. State lives in this closure, never in which function
 * `res.write` is: hooks installed after it (a compressor, a byte counter) keep calling it.
 */
import type { Response } from 'express';
import { mediaType } from './body.js';
import { headerOf, writeHeadHeaders, type Headers } from './head.js';

type Fn = (...args: unknown[]) => unknown;

/** The callback among a `write`/`end` call's arguments, run as Node would, on the next tick. */
function settle(args: unknown[]): void {
  const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
  if (cb) process.nextTick(cb);
}

/**
 * End `res` (when `applies()` and it is an event stream) at its first write or `end(data)` at or
 * after `expiresAtMs`; `ended()` is called then (for the `stream_ended` event).
 */
export function endStreamAtExpiry(res: Response, expiresAtMs: number, clock: () => number, applies: () => boolean, ended: () => void): void {
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

  function isWatched(): boolean {
    if (watched === undefined) {
      watched = mediaType(headerOf(res, headHeaders, 'content-type'))?.essence === 'text/event-stream' && applies();
    }
    return watched;
  }

  function expire(): void {
    state = 'ending';
    ended();
    res.end();
  }

  res.writeHead = function streamExpiryWriteHead(this: Response, ...args: unknown[]): Response {
    headHeaders = writeHeadHeaders(args);
    return orig.writeHead.apply(res, args) as Response;
  } as Response['writeHead'];

  res.write = function streamExpiryWrite(this: Response, ...args: unknown[]): boolean {
    if (state === 'done' || (state === 'open' && (!isWatched() || clock() < expiresAtMs))) return orig.write.apply(res, args) as boolean;
    // Past the token's life: this write and every later one are dropped. `true`: no 'drain' will
    // follow, and a writer that waits for one (a compressor's paused stream) would never end.
    settle(args);
    if (state === 'open') expire();
    return true;
  } as Response['write'];

  res.end = function streamExpiryEnd(this: Response, ...args: unknown[]): Response {
    if (state === 'done') return orig.end.apply(res, args) as Response;
    if (state === 'ending') {
      state = 'ended';
      return orig.end.apply(res, args) as Response;
    }
    if (state === 'ended') {
      // (An end after this module ended the answer would be a write after end: an 'error' event.)
      settle(args);
      return res;
    }
    const data = args[0] !== undefined && args[0] !== null && typeof args[0] !== 'function';
    if (data && isWatched() && clock() >= expiresAtMs) {
      // The last event, past the token's life: the answer ends without it.
      settle(args);
      expire();
      return res;
    }
    state = 'done';
    return orig.end.apply(res, args) as Response;
  } as Response['end'];
}
