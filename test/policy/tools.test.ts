import { InsufficientScopeError, InvalidRequestError } from '../../lib/errors.js';
import { resolveOptions, type Options } from '../../lib/options.js';
import { compilePolicy, type Policy } from '../../lib/policy/tools.js';
import type { AuthInfo } from '../../lib/types.js';

const BASE: Options = { resource: 'https://mcp.example.com/mcp', issuer: 'https://as.example.com' };

function policyOf(extra: Partial<Options>): Policy {
  const p = compilePolicy(resolveOptions({ ...BASE, ...extra }));
  if (!p) throw new Error('expected a policy');
  return p;
}
function auth(...scopes: string[]): AuthInfo {
  return { token: 't', clientId: 'c', scopes, expiresAt: 0 };
}
function call(name: unknown, id: unknown = 1): Record<string, unknown> {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } };
}
function thrown(fn: () => unknown): unknown {
  try { fn(); } catch (err) { return err; }
  throw new Error('did not throw');
}

describe('compilePolicy', () => {
  test('no policy maps → undefined', () => {
    expect(compilePolicy(resolveOptions(BASE))).toBeUndefined();
    expect(compilePolicy(resolveOptions({ ...BASE, requiredScopes: ['mcp'] }))).toBeUndefined();
  });

  const p = () => policyOf({ toolScopes: { delete_note: ['notes:write'], 'note_*': ['notes:read'] }, scopesSupported: ['notes:read', 'notes:write', 'mcp'] });

  test('an allowed call returns the tool name; other methods pass', () => {
    expect(p().check(call('delete_note'), auth('notes:write'))).toBe('delete_note');
    expect(p().check({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, auth())).toBeUndefined();
    expect(p().check({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }, auth())).toBeUndefined();
    expect(p().check(undefined, auth())).toBeUndefined();
  });

  test('unmapped tool: tool_not_allowed with no scope', () => {
    const err = thrown(() => p().check(call('other'), auth('notes:write', 'notes:read')));
    expect(err).toBeInstanceOf(InsufficientScopeError);
    expect(err).toMatchObject({ status: 403, reason: 'tool_not_allowed', scope: [], tool: 'other' });
  });

  test('missing scopes: insufficient_scope naming needed ∪ known held scopes', () => {
    const err = thrown(() => p().check(call('delete_note'), auth('notes:read', 'unknown:x'), ['mcp']));
    expect(err).toMatchObject({ status: 403, reason: 'insufficient_scope', tool: 'delete_note' });
    expect([...(err as InsufficientScopeError).scope].sort()).toEqual(['mcp', 'notes:read', 'notes:write']);
  });

  test('base scopes are checked with the calls (one 403 names both)', () => {
    const err = thrown(() => p().check(call('delete_note'), auth('notes:write'), ['mcp'])) as InsufficientScopeError;
    expect(err.reason).toBe('insufficient_scope');
    expect([...err.scope].sort()).toEqual(['mcp', 'notes:write']);
    expect(p().check(call('delete_note'), auth('notes:write', 'mcp'), ['mcp'])).toBe('delete_note');
  });

  test('tools/call without a string params.name → 400 invalid_tool_call', () => {
    for (const body of [
      { jsonrpc: '2.0', id: 1, method: 'tools/call' },
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: null },
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: [] },
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: 'delete_note' },
      call(undefined), call(null), call(7), call(['delete_note']), call({ toString: 'delete_note' }),
      JSON.parse('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"__proto__":{"name":"delete_note"}}}') as unknown,
    ]) {
      const err = thrown(() => p().check(body, auth('notes:write', 'notes:read')));
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect(err).toMatchObject({ status: 400, reason: 'invalid_tool_call', code: 'INVALID_REQUEST' });
    }
  });

  test('batches: every element is checked; one denial denies all; scope= is the union', () => {
    expect(p().check([call('note_a', 1), call('note_b', 2)], auth('notes:read'))).toBe('note_a');
    const err = thrown(() => p().check([call('note_a', 1), call('delete_note', 2)], auth('notes:read'))) as InsufficientScopeError;
    expect(err.reason).toBe('insufficient_scope');
    expect([...err.scope].sort()).toEqual(['notes:read', 'notes:write']);
    const unmapped = thrown(() => p().check([call('note_a', 1), call('zzz', 2), call('delete_note', 3)], auth('notes:read'))) as InsufficientScopeError;
    expect(unmapped).toMatchObject({ reason: 'tool_not_allowed', scope: [], tool: 'zzz' });
    expect(thrown(() => p().check([call('note_a', 1), call(5, 2)], auth('notes:read')))).toMatchObject({ status: 400 });
    expect(p().check([], auth())).toBeUndefined();
    expect(p().check([null, 5, 'x', { id: 1, result: {} }], auth())).toBeUndefined();
  });

  test('notifications are checked like requests', () => {
    const note = { jsonrpc: '2.0', method: 'tools/call', params: { name: 'delete_note' } };
    expect(thrown(() => p().check(note, auth('notes:read')))).toMatchObject({ reason: 'insufficient_scope' });
    expect(p().check(note, auth('notes:write'))).toBe('delete_note');
  });

  test('prototype names through options: ordinary names', () => {
    const q = policyOf({ toolScopes: JSON.parse('{"__proto__":["x"],"delete_note":["w"]}') as Record<string, string[]> });
    expect(q.check(call('__proto__'), auth('x'))).toBe('__proto__');
    expect(thrown(() => q.check(call('__proto__'), auth()))).toMatchObject({ reason: 'insufficient_scope' });
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      expect(thrown(() => q.check(call(name), auth('x', 'w')))).toMatchObject({ reason: 'tool_not_allowed' });
    }
  });

  test("'*': [] allows the rest with no scope", () => {
    const q = policyOf({ toolScopes: { delete_note: ['w'], '*': [] } });
    expect(q.check(call('anything'), auth())).toBe('anything');
    expect(thrown(() => q.check(call('delete_note'), auth()))).toMatchObject({ reason: 'insufficient_scope' });
  });

  test('promptScopes (prompts/get) and resourceScopes (resources/read, subscribe) use the same rules', () => {
    const q = policyOf({ promptScopes: { summary: ['p'] }, resourceScopes: { 'notes://private/': ['priv'], 'notes://': ['r'] } });
    const get = (name: unknown) => ({ jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name } });
    const read = (uri: unknown, method = 'resources/read') => ({ jsonrpc: '2.0', id: 1, method, params: { uri } });
    expect(q.check(get('summary'), auth('p'))).toBeUndefined();
    expect(thrown(() => q.check(get('summary'), auth()))).toMatchObject({ reason: 'insufficient_scope', scope: ['p'] });
    expect(thrown(() => q.check(get('other'), auth('p')))).toMatchObject({ reason: 'tool_not_allowed', scope: [], tool: undefined });
    expect(thrown(() => q.check(get(1), auth('p')))).toMatchObject({ status: 400 });
    expect(q.check(read('notes://a'), auth('r'))).toBeUndefined();
    expect(thrown(() => q.check(read('notes://private/a'), auth('r')))).toMatchObject({ reason: 'insufficient_scope' });
    expect(thrown(() => q.check(read('notes://private/a', 'resources/subscribe'), auth('r')))).toMatchObject({ reason: 'insufficient_scope' });
    expect(thrown(() => q.check(read('file:///etc/passwd'), auth('r', 'priv')))).toMatchObject({ reason: 'tool_not_allowed' });
    expect(thrown(() => q.check(read(undefined), auth('r')))).toMatchObject({ status: 400 });
    // tools are not governed without toolScopes
    expect(() => q.check(call('anything'), auth())).not.toThrow();
  });

  test('completion/complete is checked against the prompt or resource it completes', () => {
    const q = policyOf({ promptScopes: { summary: ['p'] }, resourceScopes: { 'notes://': ['r'] } });
    const complete = (ref: unknown) => ({ jsonrpc: '2.0', id: 1, method: 'completion/complete', params: { ref, argument: { name: 'a', value: '' } } });
    expect(q.check(complete({ type: 'ref/prompt', name: 'summary' }), auth('p'))).toBeUndefined();
    expect(thrown(() => q.check(complete({ type: 'ref/prompt', name: 'summary' }), auth()))).toMatchObject({ reason: 'insufficient_scope' });
    expect(thrown(() => q.check(complete({ type: 'ref/prompt', name: 'x' }), auth('p')))).toMatchObject({ reason: 'tool_not_allowed' });
    expect(thrown(() => q.check(complete({ type: 'ref/resource', uri: 'notes://{id}' }), auth()))).toMatchObject({ reason: 'insufficient_scope' });
    expect(thrown(() => q.check(complete({ type: 'ref/prompt' }), auth('p')))).toMatchObject({ status: 400 });
    expect(q.check(complete({ type: 'other' }), auth())).toBeUndefined();
  });

  test('allows(): list entries need a rule and all its scopes', () => {
    const q = p();
    expect(q.allows('tools/list', { name: 'delete_note' }, auth('notes:write'))).toBe(true);
    expect(q.allows('tools/list', { name: 'delete_note' }, auth('notes:read'))).toBe(false);
    expect(q.allows('tools/list', { name: 'other' }, auth('notes:read', 'notes:write'))).toBe(false);
    expect(q.allows('tools/list', { title: 'no name' }, auth('notes:read'))).toBe(false);
    expect(q.allows('tools/list', 'note_a', auth('notes:read'))).toBe(false);
    // prompts are not governed by this policy
    expect(q.allows('prompts/list', { name: 'x' }, auth())).toBe(true);
  });

  test('resources/templates/list under resourceScopes: watched, told by its shape on a resumed stream, filtered by what a template may name', () => {
    const q = policyOf({ resourceScopes: { 'notes://': ['notes:admin'], 'notes://public/': ['notes:read'] } });
    expect(q.filteredLists).toContain('resources/templates/list');
    expect(q.listCalls({ jsonrpc: '2.0', id: 4, method: 'resources/templates/list' })).toEqual(new Map([['n:4', { methods: ['resources/templates/list'], pending: 1 }]]));
    expect(q.replayedListCalls({ jsonrpc: '2.0', id: 4, result: { resourceTemplates: [] } })).toEqual(new Map([['n:4', { methods: ['resources/templates/list'], pending: 1 }]]));
    expect(q.allows('resources/templates/list', { uriTemplate: 'notes://{id}' }, auth('notes:read'))).toBe(true);
    expect(q.allows('resources/templates/list', { uriTemplate: 'notes://private/{id}' }, auth('notes:read'))).toBe(false);
    expect(q.allows('resources/templates/list', { uriTemplate: 'notes://private/{id}' }, auth('notes:admin'))).toBe(true);
    expect(q.allows('resources/templates/list', { uriTemplate: 42 }, auth('notes:admin'))).toBe(false);
    // Without resourceScopes it is not watched; with filterLists false neither.
    expect(policyOf({ toolScopes: { x: [] } }).filteredLists).not.toContain('resources/templates/list');
    expect(policyOf({ resourceScopes: { '*': [] }, filterLists: false }).filteredLists).not.toContain('resources/templates/list');
  });

  test('listCalls(): only list methods of configured maps, requests with an id', () => {
    const q = p();
    expect(q.listCalls({ jsonrpc: '2.0', id: 3, method: 'tools/list' })).toEqual(new Map([['n:3', { methods: ['tools/list'], pending: 1 }]]));
    expect(q.listCalls({ jsonrpc: '2.0', id: '3', method: 'tools/list' })).toEqual(new Map([['s:3', { methods: ['tools/list'], pending: 1 }]]));
    expect(q.listCalls({ jsonrpc: '2.0', method: 'tools/list' })).toBeUndefined();
    expect(q.listCalls({ jsonrpc: '2.0', id: 3, method: 'prompts/list' })).toBeUndefined();
    expect(q.listCalls([{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' }])).toEqual(new Map([['n:2', { methods: ['tools/list'], pending: 1 }]]));
    // Every request sharing a list call's id is an answer due with that id.
    expect(q.listCalls([{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', method: 'notifications/x' }]))
      .toEqual(new Map([['n:1', { methods: ['tools/list'], pending: 3 }]]));
  });
});

describe('tasks under toolScopes: every method naming a task by params.taskId (2025-11-25, and 2026-07-28 tasks/update)', () => {
  const who = (sub: string): AuthInfo => ({ token: sub, clientId: 'c', scopes: [], expiresAt: 0, extra: { iss: 'https://as.example.com', sub } });
  test.each(['tasks/get', 'tasks/result', 'tasks/update', 'tasks/cancel'])('%s: only by the identity that created the task', (method) => {
    const q = policyOf({ toolScopes: { '*': [] } });
    q.tasksCreated(['t1'], who('alice'));
    expect(q.check({ jsonrpc: '2.0', id: 1, method, params: { taskId: 't1' } }, who('alice'))).toBeUndefined();
    const err = thrown(() => q.check({ jsonrpc: '2.0', id: 1, method, params: { taskId: 't1' } }, who('bob')));
    expect(err).toBeInstanceOf(InsufficientScopeError);
    expect((err as InsufficientScopeError).reason).toBe('task_not_owned');
    expect(thrown(() => q.check({ jsonrpc: '2.0', id: 1, method, params: {} }, who('alice')))).toBeInstanceOf(InvalidRequestError);
  });

  test('listCalls(): a tools/call is watched when it asks for a task (params.task) or its client declares the tasks extension (2026-07-28)', () => {
    const q = policyOf({ toolScopes: { '*': [] } });
    const tasks = { 'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } } };
    expect(q.listCalls({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', task: {} } })?.size).toBe(1);
    expect(q.listCalls({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', _meta: tasks } })?.size).toBe(1);
    expect(q.listCalls({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', _meta: { 'io.modelcontextprotocol/clientCapabilities': {} } } })).toBeUndefined();
    expect(q.listCalls({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } })).toBeUndefined();
  });
});

test('listCalls(): under resourceScopes a resources/read is watched only in a 2026-07-28 request (its answer may carry a cacheScope)', () => {
  const q = policyOf({ resourceScopes: { 'notes://': ['notes:read'] } });
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
  expect(q.listCalls({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'notes://1', _meta: meta } })).toEqual(new Map([['n:1', { methods: ['resources/read'], pending: 1 }]]));
  expect(q.listCalls({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'notes://1' } })).toBeUndefined();
  expect(policyOf({ toolScopes: { '*': [] } }).listCalls({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'notes://1', _meta: meta } })).toBeUndefined();
});
