/**
 * The list filter's cap (16 MiB) bounds what the guard parses however the handler writes the
 * answer: also through one last `end(body)` (how `res.json()`, `res.send()` and `@hono/node-server`
 * answer), and for an SSE event that arrives complete in one write. An answer over it is never
 * handed to `JSON.parse`, passes unchanged, and is reported (`list_unfiltered`, `too_large`), as
 * the same bytes written in chunks are. A caller picks which answers are watched (every
 * `tools/list`, and task-creating `tools/call`s), so this bounds what one request can make the
 * guard parse.
 */
import type { RequestHandler } from 'express';
import type { GuardEvent } from '../../../lib/index.js';
import { build, list, TOOLS, useEnv } from './setup.js';

const env = useEnv();
const MiB = 1024 * 1024;

/** A tools/list answer of about `bytes` bytes (a padded description), one tool the token may not see included. */
function bigAnswer(id: unknown, bytes: number): string {
  return JSON.stringify({ jsonrpc: '2.0', id, result: { tools: [...TOOLS, { name: 'note_big', description: 'x'.repeat(bytes), inputSchema: { type: 'object' } }] } });
}

/** Largest string JSON.parse was given while `fn` ran (the guard runs in this realm). */
async function largestParse<T>(fn: () => Promise<T>): Promise<{ result: T; largest: number }> {
  const original = JSON.parse;
  let largest = 0;
  JSON.parse = function (text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) {
    if (typeof text === 'string') largest = Math.max(largest, text.length);
    return original.call(JSON, text, reviver);
  } as typeof JSON.parse;
  try {
    return { result: await fn(), largest };
  } finally {
    JSON.parse = original;
  }
}

const viaEnd = (size: number): RequestHandler => (req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.end(bigAnswer((req.body as { id: unknown }).id, size)); // what res.json() / res.send() do
};

const viaWrites = (size: number): RequestHandler => (req, res) => {
  res.setHeader('Content-Type', 'application/json');
  const text = Buffer.from(bigAnswer((req.body as { id: unknown }).id, size));
  for (let i = 0; i < text.length; i += MiB) res.write(text.subarray(i, i + MiB));
  res.end();
};

describe('an answer over the 16 MiB hold cap', () => {
  test('written in chunks (control): passed through unparsed, reported too_large', async () => {
    const events: GuardEvent[] = [];
    const { result: res, largest } = await largestParse(() => list(env, build(env, viaWrites(20 * MiB), events)));
    expect(res.status).toBe(200);
    expect((res.body as Buffer).length).toBeGreaterThan(20 * MiB);
    expect(largest).toBeLessThanOrEqual(16 * MiB);
    expect(events).toContainEqual({ type: 'list_unfiltered', method: 'tools/list', reason: 'too_large' });
  }, 30_000);

  test('written by one res.end(body), as res.json() does: the same bound applies', async () => {
    const events: GuardEvent[] = [];
    const { result: res, largest } = await largestParse(() => list(env, build(env, viaEnd(20 * MiB), events)));
    expect(res.status).toBe(200);
    // No string over the cap reaches JSON.parse (it passes unparsed, reported too_large).
    expect(largest).toBeLessThanOrEqual(16 * MiB);
    expect(events).toContainEqual({ type: 'list_unfiltered', method: 'tools/list', reason: 'too_large' });
  }, 30_000);

  test('an SSE answer whose one event comes in one res.end(): the same bound applies', async () => {
    const events: GuardEvent[] = [];
    const sse: RequestHandler = (req, res) => {
      res.setHeader('Content-Type', 'text/event-stream');
      res.end(`event: message\ndata: ${bigAnswer((req.body as { id: unknown }).id, 20 * MiB)}\n\n`);
    };
    const { result: res, largest } = await largestParse(() => list(env, build(env, sse, events)));
    expect(res.status).toBe(200);
    expect(largest).toBeLessThanOrEqual(16 * MiB);
    expect(events).toContainEqual({ type: 'list_unfiltered', method: 'tools/list', reason: 'too_large' });
  }, 30_000);
});
