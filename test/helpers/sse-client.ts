/** For the stream-expiry suites: open an SSE request with a token, push writes from the server side and wait for them. */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Response } from 'express';

export interface Opened {
  res: IncomingMessage;
  /** The body so far, as UTF-8. */
  text: () => string;
  /** The body so far, as received (a compressed body, undecoded). */
  bytes: () => Buffer;
  ended: Promise<void>;
}

export function openStream(url: string, token: string, method: 'GET' | 'POST', body?: unknown, headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { Authorization: `Bearer ${token}`, Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => { chunks.push(d); });
      const ended = new Promise<void>((r) => res.on('end', () => r()));
      const bytes = (): Buffer => Buffer.concat(chunks);
      resolve({ res, text: () => bytes().toString('utf8'), bytes, ended });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Write an event on `server` and wait until the client has it or the stream ended. */
export async function push(s: Opened, server: Response, data: string): Promise<void> {
  const before = s.text().length;
  const arrived = new Promise<void>((r) => {
    const check = (): void => { if (s.text().length > before) { s.res.off('data', check); r(); } };
    s.res.on('data', check);
    s.res.on('end', () => r());
  });
  server.write(`data: ${data}\n\n`);
  await arrived;
}
