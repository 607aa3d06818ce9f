/**
 * The list filter acknowledges a held write at once (its callback on the next tick), so what it
 * keeps past the write is a copy: a writer that reuses its buffer once the write callback fired
 * (the Writable contract) cannot corrupt what the client receives, in SSE (the splitter's held
 * bytes) or JSON (the held answer). Node without the filter sends exactly what was written.
 */
import type { RequestHandler, Response } from 'express';
import { build, list, listAnswer, useEnv } from './list-edges/setup.js';

const env = useEnv();

const writeAsync = (res: Response, chunk: Buffer): Promise<void> =>
  new Promise((resolve, reject) => { res.write(chunk, (err) => (err ? reject(err) : resolve())); });

/** Writes `text` in two halves through one reused buffer, waiting for each write's callback. */
const reusing = (contentType: string, text: string): RequestHandler => async (_req, res) => {
  res.writeHead(200, { 'Content-Type': contentType });
  const bytes = Buffer.from(text, 'utf8');
  const half = Math.floor(bytes.length / 2);
  const pool = Buffer.alloc(bytes.length);
  bytes.copy(pool, 0, 0, half);
  await writeAsync(res, pool.subarray(0, half));
  pool.fill(0x58); // the writer reuses its buffer once the callback said the chunk was handled
  bytes.copy(pool, 0, half);
  await writeAsync(res, pool.subarray(0, bytes.length - half));
  res.end();
};

describe('a writer that reuses its buffer after the write callback', () => {
  test('SSE: the client receives the event intact (filtered)', async () => {
    const res = await list(env, build(env, reusing('text/event-stream', `event: message\ndata: ${listAnswer(1)}\n\n`)));
    const text = (res.body as Buffer).toString('utf8');
    expect(text).not.toMatch(/XXXX/);
    expect(text).toContain('note_get');
    expect(text).not.toContain('delete_note');
  });

  test('JSON: the client receives the answer intact (filtered)', async () => {
    const res = await list(env, build(env, reusing('application/json', listAnswer(1))));
    const text = (res.body as Buffer).toString('utf8');
    expect(text).not.toMatch(/XXXX/);
    expect(JSON.parse(text)).toEqual({ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'note_get', inputSchema: { type: 'object' } }] } });
  });
});

test('control: without the filter, Node sends exactly what was written', async () => {
  const express = (await import('express')).default;
  const request = (await import('supertest')).default;
  const app = express();
  const text = `event: message\ndata: ${listAnswer(1)}\n\n`;
  app.post('/mcp', reusing('text/event-stream', text));
  const res = await request(app).post('/mcp').buffer(true).parse((r, cb) => {
    const parts: Buffer[] = [];
    r.on('data', (c: Buffer) => parts.push(Buffer.from(c)));
    r.on('end', () => cb(null, Buffer.concat(parts)));
  });
  expect((res.body as Buffer).toString('utf8')).toBe(text);
});
