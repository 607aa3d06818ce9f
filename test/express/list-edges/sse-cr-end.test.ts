/**
 * An SSE event whose blank line is a lone CR at the very end of what is written (end of stream, or
 * of an SSE answer held whole because it has a Content-Length) is complete per the HTML SSE grammar:
 * it is filtered like any other event.
 */
import type { RequestHandler } from 'express';
import type { GuardEvent } from '../../../lib/index.js';
import { build, list, listAnswer, useEnv } from './setup.js';

const env = useEnv();

const streamed = (text: string): RequestHandler => (_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/event-stream' });
  res.end(text);
};
const withLength = (text: string): RequestHandler => (_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
};

describe('SSE event ended by a lone CR at the end of the answer', () => {
  test.each([
    ['streamed, CR line ends', streamed(`event: message\rdata: ${listAnswer(1)}\r\r`)],
    ['streamed, CRLF then CR', streamed(`event: message\r\ndata: ${listAnswer(1)}\r\n\r`)],
    ['held (Content-Length), CR line ends', withLength(`event: message\rdata: ${listAnswer(1)}\r\r`)],
  ])('%s: the hidden tool does not reach the client', async (_label, handler) => {
    const events: GuardEvent[] = [];
    const res = await list(env, build(env, handler, events));
    const text = (res.body as Buffer).toString('utf8');
    expect(res.status).toBe(200);
    expect(text).toContain('note_get');
    // A complete event (per the SSE grammar a CR alone ends a line) carrying a hidden tool, sent as is and not reported.
    expect(text).not.toContain('delete_note');
  });
});
