/**
 * `tools/list`, `prompts/list`, `resources/list`, `resources/templates/list` and `tasks/list` filtering on parsed JSON-RPC
 * payloads (framework-free): which list calls a request makes, and the answers to them with the
 * entries a token may not use removed; and the tasks that task-augmented `tools/call` answers
 * create, which are read, never changed: MCP 2025-11-25 (`params.task` asks for one; its
 * `CreateTaskResult` names it at `result.task.taskId`) and the 2026-07-28 tasks extension (a call
 * whose client capabilities declare `io.modelcontextprotocol/tasks` may get one; its
 * `CreateTaskResult` is `result` itself, `resultType: "task"` and `taskId`).
 * A list or `resources/read` answer this module looked at is the token's own view (filtered, or
 * read under `resourceScopes`): a 2026-07-28 result (it has a `resultType`) goes out with
 * `cacheScope: "private"` whatever it said (a final one without it is taken for shareable), so no
 * shared cache serves it to another authorization. Everything else in a payload is left as it is.
 * Answers are matched to the calls of their request by id; on a resumed stream, whose requests were
 * made on an earlier connection, by their shape (`listCallsByShape`).
 */
import { CLIENT_CAPABILITIES, isObject, metaOf, own, PROTOCOL_VERSION, TASKS_EXTENSION } from './jsonrpc.js';

/** The list methods a policy can filter. */
export type ListMethod = 'tools/list' | 'prompts/list' | 'resources/list' | 'resources/templates/list' | 'tasks/list';

/** The calls whose answers are looked at: list calls, task-creating `tools/call`s, and `resources/read` (for its `cacheScope`). */
export type WatchedMethod = ListMethod | 'tools/call' | 'resources/read';

/** The array in a list result that holds the entries. */
export const LIST_KEYS: Readonly<Record<ListMethod, 'tools' | 'prompts' | 'resources' | 'resourceTemplates' | 'tasks'>> = Object.freeze({
  'tools/list': 'tools',
  'prompts/list': 'prompts',
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
  'tasks/list': 'tasks',
});

/**
 * List calls of one request still waiting for their answer, by JSON-RPC id key: the list methods
 * asked with that id, and how many answers with that id are still due (every request of the body
 * that uses it, list call or not: a batch may repeat an id, and each answer must be looked at).
 */
export type ListCalls = Map<string, { methods: WatchedMethod[]; pending: number }>;

/** Decides whether one entry of a list (a tool, prompt, resource or task object) stays. */
export type KeepEntry = (method: ListMethod, entry: unknown) => boolean;

/** A map key for a JSON-RPC id that keeps `1` and `"1"` apart; `undefined` for a notification or a bad id. */
export function idKey(id: unknown): string | undefined {
  if (typeof id === 'string') return `s:${id}`;
  if (typeof id === 'number' && Number.isFinite(id)) return `n:${id}`;
  if (id === null) return 'null';
  return undefined;
}

/**
 * A `tools/call` whose answer may create a task: it asks for one (2025-11-25: `params.task` is an
 * object), or its client declares the tasks extension (2026-07-28: the server decides).
 */
function createsTask(m: Record<string, unknown>): boolean {
  const params = own(m, 'params');
  if (!isObject(params)) return false;
  if (isObject(own(params, 'task'))) return true;
  const meta = metaOf(m);
  const capabilities = meta ? own(meta, CLIENT_CAPABILITIES) : undefined;
  const extensions = isObject(capabilities) ? own(capabilities, 'extensions') : undefined;
  return isObject(extensions) && own(extensions, TASKS_EXTENSION) !== undefined;
}

/**
 * A final result that may be cached across authorizations: a `cacheScope` other than `"private"`,
 * or none on a 2026-07-28 result (the field is required there; one without it is taken for
 * shareable). An interim result (`resultType` other than `"complete"`, such as `input_required`) is
 * never cached and carries no hints: left alone.
 */
function shareable(result: Record<string, unknown>): boolean {
  const type = own(result, 'resultType');
  if (type !== undefined && type !== 'complete') return false;
  const scope = own(result, 'cacheScope');
  return scope !== 'private' && (scope !== undefined || type !== undefined);
}

/** A 2026-07-28 request (its `_meta` names a protocol version): only its answers carry caching hints. */
function isModern(m: Record<string, unknown>): boolean {
  const meta = metaOf(m);
  return meta !== undefined && typeof own(meta, PROTOCOL_VERSION) === 'string';
}

/** The task a `tools/call` result created: 2025-11-25 `result.task.taskId`, 2026-07-28 `resultType: "task"` with `taskId`. */
function createdTask(result: Record<string, unknown>): string | undefined {
  const task = own(result, 'task');
  const nested = isObject(task) ? own(task, 'taskId') : undefined;
  if (typeof nested === 'string') return nested;
  const flat = own(result, 'resultType') === 'task' ? own(result, 'taskId') : undefined;
  return typeof flat === 'string' ? flat : undefined;
}

/**
 * The watched calls (requests with an id) of a parsed body, single message or batch, restricted to
 * `methods` (`tools/call` only when it may create a task, `resources/read` only in a 2026-07-28
 * request); `undefined` when there is none.
 */
export function findListCalls(body: unknown, methods: ReadonlySet<string>): ListCalls | undefined {
  if (methods.size === 0) return undefined;
  let calls: ListCalls | undefined;
  const messages = Array.isArray(body) ? body : [body];
  for (const m of messages) {
    if (!isObject(m)) continue;
    const method = own(m, 'method');
    if (typeof method !== 'string' || !methods.has(method)) continue;
    // A tools/call only when it may create a task; a resources/read only in 2026 (for its cacheScope).
    if ((method === 'tools/call' && !createsTask(m)) || (method === 'resources/read' && !isModern(m))) continue;
    const key = idKey(own(m, 'id'));
    if (key === undefined) continue;
    calls ??= new Map();
    const call = calls.get(key);
    if (!call) calls.set(key, { methods: [method as WatchedMethod], pending: 0 });
    else if (!call.methods.includes(method as WatchedMethod)) call.methods.push(method as WatchedMethod);
  }
  if (calls) {
    // Every request sharing a list call's id gets an answer with that id: all are due.
    for (const m of messages) {
      if (!isObject(m) || typeof own(m, 'method') !== 'string') continue;
      const key = idKey(own(m, 'id'));
      const call = key === undefined ? undefined : calls.get(key);
      if (call) call.pending++;
    }
  }
  return calls;
}

/**
 * The list answers of a payload told by their shape, for events replayed on a resumed `GET` stream
 * (their requests were made on an earlier connection, so their ids are not known here): an answer,
 * single or in a batch, whose `result` has an own array member of a watched list method's (`tools`,
 * `prompts`, `resources`, `resourceTemplates`, `tasks`); `undefined` when there is none. Only ever removes entries.
 */
export function listCallsByShape(payload: unknown, lists: readonly ListMethod[]): ListCalls | undefined {
  let calls: ListCalls | undefined;
  for (const m of Array.isArray(payload) ? payload : [payload]) {
    if (!isObject(m)) continue;
    const result = own(m, 'result');
    const key = idKey(own(m, 'id'));
    if (!isObject(result) || key === undefined) continue;
    for (const method of lists) {
      if (!Array.isArray(own(result, LIST_KEYS[method]))) continue;
      calls ??= new Map();
      const call = calls.get(key);
      if (!call) calls.set(key, { methods: [method], pending: 1 });
      else if (!call.methods.includes(method)) call.methods.push(method);
    }
  }
  return calls;
}

/** Count the answers a payload gave (its {@link FilterOutcome.answered}); an id with none still due is done. */
export function settle(calls: ListCalls, answered: readonly string[]): void {
  for (const key of answered) {
    const call = calls.get(key);
    if (call && --call.pending <= 0) calls.delete(key);
  }
}

/** What {@link filterPayload} did. */
export interface FilterOutcome {
  /** The payload to send: the input itself when nothing changed. */
  payload: unknown;
  /** True when the payload was rewritten (an entry removed, or a `cacheScope` made private). */
  changed: boolean;
  /** Id keys of the list calls this payload answered (result or error). */
  answered: string[];
  /** Methods whose answer had an unexpected shape (left unchanged). */
  unexpected: WatchedMethod[];
  /** Task ids created by the task-augmented `tools/call` calls this payload answered. */
  tasks: string[];
}

function filterMessage(msg: unknown, calls: ListCalls, keep: KeepEntry, out: FilterOutcome): unknown {
  if (!isObject(msg)) return msg;
  const key = idKey(own(msg, 'id'));
  if (key === undefined || typeof own(msg, 'method') === 'string') return msg;
  const methods = calls.get(key)?.methods;
  if (!methods) return msg;
  const result = own(msg, 'result');
  if (result === undefined) {
    if (own(msg, 'error') !== undefined) out.answered.push(key);
    return msg;
  }
  out.answered.push(key);
  if (!isObject(result)) {
    out.unexpected.push(...methods);
    return msg;
  }
  let next: Record<string, unknown> | undefined;
  let matched = false;
  for (const method of methods) {
    if (method === 'tools/call') {
      // A task's creation (CreateTaskResult), or a plain result (the server ran it at once).
      matched = true;
      const taskId = createdTask(result);
      if (taskId !== undefined) out.tasks.push(taskId);
      continue;
    }
    if (method === 'resources/read') {
      matched = true;
      if (shareable(result)) {
        next ??= { ...result };
        next.cacheScope = 'private';
      }
      continue;
    }
    const listKey = LIST_KEYS[method];
    const entries = own(result, listKey);
    if (entries === undefined) continue;
    matched = true;
    if (!Array.isArray(entries)) {
      out.unexpected.push(method);
      continue;
    }
    const kept = entries.filter((e) => keep(method, e));
    if (kept.length !== entries.length) {
      next ??= { ...result };
      next[listKey] = kept;
      // A task store's cursor may be a task id (the SDK's is the page's last): when another
      // identity's tasks were on the page, it is not handed on.
      if (method === 'tasks/list') delete next.nextCursor;
    }
    if (shareable(result)) {
      // Filtered or not, this answer is what this token may see: never "public".
      next ??= { ...result };
      next.cacheScope = 'private';
    }
  }
  if (!matched) out.unexpected.push(...methods);
  if (!next) return msg;
  out.changed = true;
  return { ...msg, result: next };
}

/**
 * Remove from the answers to `calls` in `payload` (one JSON-RPC message or an array of them) the
 * entries `keep` refuses. Messages that answer no pending call, requests, notifications and error
 * answers are returned untouched; the input is never mutated.
 */
export function filterPayload(payload: unknown, calls: ListCalls, keep: KeepEntry): FilterOutcome {
  const out: FilterOutcome = { payload, changed: false, answered: [], unexpected: [], tasks: [] };
  if (Array.isArray(payload)) {
    const mapped = payload.map((m) => filterMessage(m, calls, keep, out));
    if (out.changed) out.payload = mapped;
  } else {
    const mapped = filterMessage(payload, calls, keep, out);
    if (out.changed) out.payload = mapped;
  }
  return out;
}
