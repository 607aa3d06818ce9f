/**
 * MCP 2026-07-28 standard headers (SEP-2243) against the body: `headerMismatch()` and
 * `decodeNameHeader()`, framework-free. A header that is there must name what the body does.
 */
import { decodeNameHeader, headerMismatch } from '../../lib/policy/standard-headers.js';

const b64 = (s: string): string => `=?base64?${Buffer.from(s, 'utf8').toString('base64')}?=`;
const call = (method: string, params: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id: 1, method, params });

describe('headerMismatch', () => {
  test('no header: nothing to compare, whatever the body', () => {
    for (const body of [undefined, null, {}, [], 'text', call('tools/call', { name: 'x' }), [call('ping')]]) {
      expect(headerMismatch(undefined, undefined, body)).toBeUndefined();
    }
  });

  test('headers that agree pass, optional whitespace around them included', () => {
    expect(headerMismatch('tools/call', 'delete_note', call('tools/call', { name: 'delete_note' }))).toBeUndefined();
    expect(headerMismatch(' \ttools/call ', '\tdelete_note ', call('tools/call', { name: 'delete_note' }))).toBeUndefined();
    expect(headerMismatch('resources/read', 'file:///a b', call('resources/read', { uri: 'file:///a b' }))).toBeUndefined();
    expect(headerMismatch('tasks/update', 't-1', call('tasks/update', { taskId: 't-1' }))).toBeUndefined();
    expect(headerMismatch('prompts/get', 'p', call('prompts/get', { name: 'p' }))).toBeUndefined();
    expect(headerMismatch('tools/list', undefined, call('tools/list'))).toBeUndefined();
    expect(headerMismatch(undefined, 'delete_note', call('tools/call', { name: 'delete_note' }))).toBeUndefined();
  });

  test('Mcp-Method other than the body method', () => {
    expect(headerMismatch('tools/list', undefined, call('tools/call', { name: 'delete_note' }))).toMatch(/Mcp-Method/);
    expect(headerMismatch('Tools/Call', undefined, call('tools/call', { name: 'x' }))).toMatch(/Mcp-Method/);
    // Two header lines arrive joined by Node: a list names no one method.
    expect(headerMismatch('tools/call, tools/call', undefined, call('tools/call', { name: 'x' }))).toMatch(/Mcp-Method/);
  });

  test('Mcp-Name other than the member it mirrors, or where the body has none', () => {
    expect(headerMismatch('tools/call', 'read_note', call('tools/call', { name: 'delete_note' }))).toMatch(/params\.name/);
    expect(headerMismatch(undefined, 'read_note', call('tools/call', { name: 'delete_note' }))).toMatch(/params\.name/);
    expect(headerMismatch('resources/read', 'file:///public', call('resources/read', { uri: 'file:///secret' }))).toMatch(/params\.uri/);
    expect(headerMismatch('tasks/get', 'mine', call('tasks/get', { taskId: 'theirs' }))).toMatch(/params\.taskId/);
    expect(headerMismatch('tasks/cancel', 'mine', call('tasks/cancel', { taskId: 'theirs' }))).toMatch(/params\.taskId/);
    // An orphan header: the body names nothing, or not as a string, or only by inheritance.
    expect(headerMismatch('tools/call', 'read_note', call('tools/call', {}))).toMatch(/params\.name/);
    expect(headerMismatch('tools/call', '1', call('tools/call', { name: 1 }))).toMatch(/params\.name/);
    const inherited = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: Object.create({ name: 'read_note' }) as object };
    expect(headerMismatch('tools/call', 'read_note', inherited)).toMatch(/params\.name/);
  });

  test('Mcp-Name on a method that names nothing is left alone (as the SDK leaves it)', () => {
    expect(headerMismatch('tools/list', 'anything', call('tools/list'))).toBeUndefined();
  });

  test('a header beside a batch or beside a body that is no request', () => {
    expect(headerMismatch('tools/call', undefined, [call('tools/call', { name: 'x' })])).toMatch(/single JSON-RPC request/);
    expect(headerMismatch(undefined, 'x', [call('tools/call', { name: 'x' })])).toMatch(/single JSON-RPC request/);
    expect(headerMismatch('tools/call', undefined, { jsonrpc: '2.0', id: 1, result: {} })).toMatch(/single JSON-RPC request/);
    expect(headerMismatch('tools/call', undefined, {})).toMatch(/single JSON-RPC request/);
    expect(headerMismatch('tools/call', undefined, undefined)).toMatch(/single JSON-RPC request/);
  });

  test('a header given twice (a list of its lines) names nothing', () => {
    expect(headerMismatch(['tools/call', 'tools/call'], undefined, call('tools/call', { name: 'x' }))).toMatch(/once/);
    expect(headerMismatch('tools/call', ['x', 'x'], call('tools/call', { name: 'x' }))).toMatch(/once/);
  });

  test('a Base64 sentinel is compared by what it decodes to', () => {
    expect(headerMismatch('tools/call', b64('ノート削除'), call('tools/call', { name: 'ノート削除' }))).toBeUndefined();
    expect(headerMismatch('tools/call', b64(' padded '), call('tools/call', { name: ' padded ' }))).toBeUndefined();
    expect(headerMismatch('tools/call', b64('read_note'), call('tools/call', { name: 'delete_note' }))).toMatch(/params\.name/);
    expect(headerMismatch('tools/call', '=?base64?!!!!?=', call('tools/call', { name: '!!!!' }))).toMatch(/Base64/);
  });
});

describe('decodeNameHeader', () => {
  test('plain values as they are (without optional whitespace)', () => {
    expect(decodeNameHeader('delete_note')).toBe('delete_note');
    expect(decodeNameHeader('  x\t')).toBe('x');
    expect(decodeNameHeader('=?base64?')).toBe('=?base64?');
  });

  test('a raw value is printable ASCII (or SP, HTAB) only: other bytes must come Base64-encoded', () => {
    expect(decodeNameHeader('supprimer_\u00e9l\u00e9ment')).toBeUndefined();
    expect(decodeNameHeader('a\u0000b')).toBeUndefined();
    expect(decodeNameHeader('a\tb c~')).toBe('a\tb c~');
  });

  test('a byte order mark is part of the decoded name, not dropped', () => {
    expect(decodeNameHeader(`=?base64?${Buffer.from('\uFEFFx', 'utf8').toString('base64')}?=`)).toBe('\uFEFFx');
  });

  test('"=?base64?=" is a sentinel for the empty name, as the SDK reads it', () => {
    expect(decodeNameHeader('=?base64?=')).toBe('');
  });

  test('canonical Base64 of UTF-8 only', () => {
    expect(decodeNameHeader(b64('é'))).toBe('é');
    expect(decodeNameHeader('=?base64??=')).toBe('');
    // Unpadded, non-alphabet, unused bits set, not UTF-8.
    expect(decodeNameHeader('=?base64?w6k?=')).toBeUndefined();
    expect(decodeNameHeader('=?base64?w6-=?=')).toBeUndefined();
    expect(decodeNameHeader('=?base64?w6l=?=')).toBeUndefined();
    expect(decodeNameHeader(`=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=`)).toBeUndefined();
  });
});
