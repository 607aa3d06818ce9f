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
  const orig = res.write;
  let checked = false;
  const write = function streamExpiryWrite(this: Response, ...args: unknown[]): boolean {
    if (!checked) {
      checked = true;
      // Not a stream: step aside for good (only while the wrapper is still this one).
      if (!isEventStream(res) && res.write === write) res.write = orig;
    }
    if (res.write !== write || clock() < expiresAtMs) return (orig as unknown as (...a: unknown[]) => boolean).apply(res, args);
    // Ended: drop this write and all later ones (a write after end would emit an 'error' nobody handles).
    res.write = function streamExpiredWrite(...later: unknown[]): boolean {
      const cb = later.find((a) => typeof a === 'function') as ((err?: Error) => void) | undefined;
      if (cb) process.nextTick(cb);
      return false;
    } as Response['write'];
    const cb = args.find((a) => typeof a === 'function') as ((err?: Error) => void) | undefined;
    if (cb) process.nextTick(cb);
    ended();
    res.end();
    return false;
  } as Response['write'];
  res.write = write;
}
