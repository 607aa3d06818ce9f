/**
 * `compression@1.x`'s write/end/drain pattern, reduced (gzip always, no filter or threshold), for
 * the stream suites: its `res.write`/`res.end` feed a zlib stream whose output goes to the
 * `res.write` it captured; its `res.end` does nothing once called; zlib's 'end' calls the `res.end`
 * it captured; a `false` from that `write` pauses zlib until 'drain'; its `res.on` puts a 'drain'
 * listener on the zlib stream (so a writer waits for zlib's 'drain', not the response's).
 */
import { createGzip, type Gzip } from 'node:zlib';
import type { RequestHandler, Response } from 'express';

export interface CompressionLikeHooks {
  /** Each response's zlib stream, when it is made. */
  onStream?: (stream: Gzip) => void;
  /** Called once zlib has ended and called the captured `res.end`. */
  onZlibEnd?: () => void;
}

export function compressionLike({ onStream, onZlibEnd }: CompressionLikeHooks = {}): RequestHandler {
  return (_req, res, next) => {
    const write = res.write as (...a: unknown[]) => boolean;
    const end = res.end as (...a: unknown[]) => Response;
    const on = res.on;
    let ended = false;
    const stream = createGzip();
    onStream?.(stream);
    res.setHeader('Content-Encoding', 'gzip');
    (res as unknown as { flush: () => void }).flush = () => stream.flush();
    res.write = function (this: Response, chunk: unknown) {
      if (ended) return false;
      return stream.write(chunk as Buffer);
    } as Response['write'];
    res.end = function (this: Response, chunk?: unknown) {
      if (ended) return false as unknown as Response;
      ended = true;
      if (chunk) stream.end(chunk as Buffer); else stream.end();
      return res;
    } as Response['end'];
    res.on = function (this: Response, type: string | symbol, listener: (...a: unknown[]) => void) {
      if (type !== 'drain') return on.call(this, type, listener);
      stream.on('drain', listener);
      return this;
    } as Response['on'];
    stream.on('data', (chunk: Buffer) => { if (write.call(res, chunk) === false) stream.pause(); });
    stream.on('end', () => { end.call(res); onZlibEnd?.(); });
    on.call(res, 'drain', () => stream.resume());
    next();
  };
}
