/**
 * Long-lived streams end with their token. A `GET` stream (Streamable HTTP) or a 2026-07-28
 * `subscriptions/listen` answer is one request that may stay open for hours, carrying messages
 * (task results, resource updates) long after the token that opened it expired. The guard cannot
 * re-check a request, so it ends its stream instead: the first write at or after the token's
 * `expiresAt` (the injected clock) ends the response without that write, and every later write is
 * dropped. No timer: a stream that writes nothing sends nothing either, and keep-alives count as
 * writes. The client reconnects with its current token, which the guard checks again.
 *
 * Only for `text/event-stream` answers: a `GET` of anything else (a download behind an app-wide
 * `protect()`) is left alone, and so is a POST's answer (a tool call's result is due to the token
 * that made the call, valid when it was made).
 */
import type { Response } from 'express';

/** Whether the answer being written is an event stream (decided once, at the first write). */
function isEventStream(res: Response): boolean {
  const type = res.getHeader('content-type');
  return typeof type === 'string' && type.trimStart().toLowerCase().startsWith('text/event-stream');
}

/**
 * End `res` at its first write at or after `expiresAtMs`, if it is an event stream; `ended()` is
 * called then (for the decision event).
 */
export function endStreamAtExpiry(res: Response, expiresAtMs: number, clock: () => number, ended: () => void): void {
  const orig = res.write as unknown as (...a: unknown[]) => boolean;
  /** Decided at the first write: not an event stream, so never ended. */
  let passThrough: boolean | undefined;
  let expired = false;
  const write = function streamExpiryWrite(this: Response, ...args: unknown[]): boolean {
    if (passThrough === undefined) {
      passThrough = !isEventStream(res);
      // Step aside for good (only while the wrapper is still this one: a hook installed after it
      // keeps calling it, and it forwards).
      if (passThrough && res.write === write) res.write = orig as unknown as Response['write'];
    }
    if (passThrough || (!expired && clock() < expiresAtMs)) return orig.apply(res, args);
    // Ended: this write and every later one are dropped (a write after end would emit an 'error'
    // nobody handles); their callbacks still run.
    const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    if (cb) process.nextTick(cb);
    if (!expired) {
      expired = true;
      ended();
      res.end();
    }
    return false;
  } as Response['write'];
  res.write = write;
}
