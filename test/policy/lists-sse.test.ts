import { filterPayload, findListCalls, idKey, listCallsByShape, type KeepEntry } from '../../lib/policy/lists.js';
import { EventEnd, eventData, SseSplitter, withEventData } from '../../lib/policy/sse.js';

const keep: KeepEntry = (_m, e) => (e as { name?: string }).name !== 'secret';
const tools = (...names: string[]) => names.map((name) => ({ name, inputSchema: { type: 'object' } }));

describe('list payload filtering', () => {
  test('ids: 1 and "1" are different calls; notifications are no calls', () => {
    expect(idKey(1)).not.toBe(idKey('1'));
    expect(idKey(undefined)).toBeUndefined();
    expect(idKey(NaN)).toBeUndefined();
    expect(findListCalls({ id: 1, method: 'tools/list' }, new Set())).toBeUndefined();
  });

  test('replayed answers (ids unknown) are told by their shape: a result holding a watched list\'s array', () => {
    const watched = ['tools/list', 'tasks/list'] as const;
    const answer = { jsonrpc: '2.0', id: 7, result: { tools: tools('a', 'secret') } };
    expect([...listCallsByShape(answer, watched)!]).toEqual([['n:7', { methods: ['tools/list'], pending: 1 }]]);
    expect(filterPayload(answer, listCallsByShape(answer, watched)!, keep).payload).toEqual({ jsonrpc: '2.0', id: 7, result: { tools: tools('a') } });
    // In a batch too; a list the policy does not filter, a request, a notification, an error, no array: nothing.
    expect([...listCallsByShape([{ id: 'x', result: { tasks: [] } }, answer], watched)!.keys()]).toEqual(['s:x', 'n:7']);
    for (const other of [{ id: 1, result: { prompts: [] } }, { id: 1, method: 'tools/list', params: { tools: [] } }, { method: 'n', result: { tools: [] } },
      { id: 1, error: { code: 1, message: 'x' } }, { id: 1, result: { tools: {} } }, { id: 1, result: Object.create({ tools: [] }) as object }, null, 'x']) {
      expect(listCallsByShape(other, watched)).toBeUndefined();
    }
  });

  test('filters the answer to a pending call, leaves everything else alone, never mutates', () => {
    const calls = findListCalls({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, new Set(['tools/list']))!;
    const answer = { jsonrpc: '2.0', id: 1, result: { tools: tools('a', 'secret', 'b'), nextCursor: 'c' } };
    const out = filterPayload(answer, calls, keep);
    expect(out.changed).toBe(true);
    expect(out.answered).toEqual(['n:1']);
    expect(out.payload).toEqual({ jsonrpc: '2.0', id: 1, result: { tools: tools('a', 'b'), nextCursor: 'c' } });
    expect(answer.result.tools).toHaveLength(3);
    // another id, a string id, an error answer: untouched
    for (const other of [{ ...answer, id: 2 }, { ...answer, id: '1' }, { jsonrpc: '2.0', id: 1, error: { code: 1, message: 'x' } }]) {
      const o = filterPayload(other, calls, keep);
      expect(o.changed).toBe(false);
      expect(o.payload).toBe(other);
    }
  });

  test('batch answers: only the list answer changes', () => {
    const calls = findListCalls([{ id: 1, method: 'ping' }, { id: 2, method: 'tools/list' }], new Set(['tools/list']))!;
    const out = filterPayload([{ jsonrpc: '2.0', id: 1, result: {} }, { jsonrpc: '2.0', id: 2, result: { tools: tools('secret') } }], calls, keep);
    expect(out.payload).toEqual([{ jsonrpc: '2.0', id: 1, result: {} }, { jsonrpc: '2.0', id: 2, result: { tools: [] } }]);
  });

  test('unexpected shapes are reported and left unchanged', () => {
    const calls = findListCalls({ id: 1, method: 'tools/list' }, new Set(['tools/list']))!;
    for (const result of [{ tools: 'x' }, {}, 'x']) {
      const out = filterPayload({ jsonrpc: '2.0', id: 1, result }, calls, keep);
      expect(out.changed).toBe(false);
      expect(out.unexpected).toEqual(['tools/list']);
    }
  });
});

describe('SSE splitting', () => {
  const enc = (s: string) => Buffer.from(s, 'utf8');

  test('splits on empty lines with any line ending, across chunk boundaries', () => {
    const stream = 'event: message\nid: 1\ndata: {"a":1}\n\nid: 2\r\ndata: {"b":2}\r\n\r\ndata: x\r\rdata: tail';
    for (let cut = 0; cut <= stream.length; cut++) {
      const s = new SseSplitter();
      const blocks = [...s.push(enc(stream.slice(0, cut))), ...s.push(enc(stream.slice(cut)))].map((b) => b.toString());
      expect(blocks).toEqual(['event: message\nid: 1\ndata: {"a":1}\n\n', 'id: 2\r\ndata: {"b":2}\r\n\r\n', 'data: x\r\r']);
      expect(s.drain().toString()).toBe('data: tail');
    }
  });

  test('byte by byte, with multi-byte characters', () => {
    const stream = enc('data: {"t":"ü€😀"}\n\n: comment\n\n');
    const s = new SseSplitter();
    const blocks: Buffer[] = [];
    for (const byte of stream) blocks.push(...s.push(Buffer.from([byte])));
    expect(blocks.map((b) => b.toString())).toEqual(['data: {"t":"ü€😀"}\n\n', ': comment\n\n']);
  });

  test('random chunkings give the same events, and events handed out are never overwritten', () => {
    let seed = 42;
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    const events = Array.from({ length: 60 }, (_, i) => `id: ${i}\n${i % 3 === 0 ? 'data: ' + 'x'.repeat(rand(3000)) : 'data: {"i":' + i + '}'}${i % 2 ? '\r\n\r\n' : '\n\n'}`);
    const stream = enc(events.join('') + 'data: tail');
    for (let round = 0; round < 20; round++) {
      const s = new SseSplitter();
      const got: Buffer[] = [];
      for (let at = 0; at < stream.length;) {
        const n = 1 + rand(round % 2 ? 7 : 2000);
        got.push(...s.push(Buffer.from(stream.subarray(at, at + n))));
        at += n;
      }
      // Compared after the whole stream went through: a later push must not have changed them.
      expect(got.map((b) => b.toString())).toEqual(events);
      expect(s.drain().toString()).toBe('data: tail');
    }
  });

  test('an event arriving in many small writes is assembled with linear copying (not one copy of all held bytes per write)', () => {
    const event = enc(`data: ${'y'.repeat(1024 * 1024)}\n\n`);
    const copy = Buffer.prototype.copy;
    const concat = Buffer.concat;
    let copied = 0;
    Buffer.prototype.copy = function (this: Buffer, ...args: Parameters<Buffer['copy']>) { const n = copy.apply(this, args); copied += n; return n; };
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => { const b = concat(list, total); copied += b.length; return b; }) as typeof Buffer.concat;
    try {
      const s = new SseSplitter();
      const got: Buffer[] = [];
      for (let at = 0; at < event.length; at += 1024) got.push(...s.push(event.subarray(at, at + 1024)));
      expect(got.map((b) => b.length)).toEqual([event.length]);
    } finally {
      Buffer.prototype.copy = copy;
      Buffer.concat = concat;
    }
    expect(copied).toBeLessThanOrEqual(4 * event.length);
  });

  test('eventData joins data lines; withEventData keeps the other fields', () => {
    const block = enc('event: message\nid: 7\ndata: {"a":\ndata:1}\n\n');
    expect(eventData(block)).toBe('{"a":\n1}');
    expect(eventData(enc(': only a comment\n\n'))).toBeUndefined();
    expect(withEventData(block, '{"a":2}').toString()).toBe('event: message\nid: 7\ndata: {"a":2}\n\n');
    expect(() => eventData(Buffer.from([0x64, 0x61, 0x74, 0x61, 0x3a, 0xff, 0x0a, 0x0a]))).toThrow();
  });
});

describe('EventEnd (the end of an event let through unheld)', () => {
  const feedAll = (pieces: string[]): number[] => { const e = new EventEnd(); return pieces.map((p) => e.feed(Buffer.from(p))); };
  test('an empty line after LF, CR or CR LF lines; across pieces; not inside a line', () => {
    expect(feedAll(['data: x\n\nnext'])).toEqual([9]);
    // A CR that ends the event: the LF after it is left to the splitter (an empty block, passed as is).
    expect(feedAll(['data: x\r\n\r\nnext'])).toEqual([10]);
    expect(feedAll(['data: x\r\r'])).toEqual([9]);
    expect(feedAll(['data: x', '\n', '\n'])).toEqual([-1, -1, 1]);
    expect(feedAll(['data: x\r', '\n\r'])).toEqual([-1, 2]);
    expect(feedAll(['data: a\ndata: b\n', 'id: 1\n', 'x'])).toEqual([-1, -1, -1]);
  });
});
