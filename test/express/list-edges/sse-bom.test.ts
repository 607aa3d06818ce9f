/**
 * A UTF-8 BOM at the start of an SSE stream is part of the SSE grammar (clients drop it: the MCP SDK
 * client decodes with a default `TextDecoderStream`): the list answer in the first event is filtered.
 * On a later event a BOM is not dropped, by the client or by the guard.
 */
import type { RequestHandler } from 'express';
import { createParser } from 'eventsource-parser';
import type { GuardEvent } from '../../../lib/index.js';
import { build, list, listAnswer, useEnv } from './setup.js';

const env = useEnv();

/**
 * The tool names of each list answer the MCP SDK client sees in an SSE body: `TextDecoder` (which
 * drops a stream-leading BOM only) and `eventsource-parser`, as the client reads it.
 */
function clientSees(body: Buffer): string[][] {
  const seen: string[] = [];
  const parser = createParser({ onEvent: (e) => seen.push(e.data) });
  parser.feed(new TextDecoder().decode(body));
  return seen.filter((d) => d.trim() !== '').map((d) => (JSON.parse(d) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name));
}

describe('SSE stream starting with a BOM', () => {
  test.each([
    ['one write', 1],
    ['byte by byte', 0],
  ])('%s: the list answer in the first event is filtered', async (_label, whole) => {
    const handler: RequestHandler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      const bytes = Buffer.from(`\uFEFFdata: ${listAnswer(1)}\n\n`, 'utf8');
      if (whole) res.write(bytes);
      else for (const b of bytes) res.write(Buffer.from([b]));
      res.end();
    };
    const events: GuardEvent[] = [];
    const res = await list(env, build(env, handler, events));
    expect(res.status).toBe(200);
    expect(clientSees(res.body as Buffer)).toEqual([['note_get']]);
  });
});

// Only the stream's first event loses a BOM: on a later one the client reads a field named
// "\uFEFFdata" and ignores it, so the guard must not take it for the list answer either.
test('a BOM on a later event does not make the guard skip the real list answer', async () => {
  const handler: RequestHandler = (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.write('id: prime\ndata: \n\n');                        // a priming event (no data for the client)
    res.write(`\uFEFFdata: ${listAnswer(1)}\n\n`);           // ignored by the client (field "\uFEFFdata")
    res.write(`data: ${listAnswer(1)}\n\n`);                 // the answer the client dispatches
    res.end();
  };
  const events: GuardEvent[] = [];
  const res = await list(env, build(env, handler, events));
  expect(res.status).toBe(200);
  const answers = clientSees(res.body as Buffer);
  expect(answers.length).toBeGreaterThan(0);
  for (const names of answers) expect(names).toEqual(['note_get']);
});
