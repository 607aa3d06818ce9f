/**
 * The MCP tool policy: a parsed JSON-RPC body (single message or batch) → the scopes it needs, and
 * the filter of list answers. Compiled once from `toolScopes`, `promptScopes` and `resourceScopes`.
 *
 * What is checked, per message (requests and notifications alike):
 * - `tools/call` → `toolScopes` by `params.name`;
 * - `prompts/get` → `promptScopes` by `params.name`;
 * - `resources/read`, `resources/subscribe` → `resourceScopes` by `params.uri` (longest prefix), and
 *   `subscriptions/listen` (MCP 2026-07-28) by each of `params.notifications.resourceSubscriptions`;
 * - `completion/complete` → `promptScopes` by `params.ref.name` (`ref/prompt`) or `resourceScopes`
 *   by `params.ref.uri` (`ref/resource`), so a token cannot complete arguments of what it cannot use.
 *
 * - with `toolScopes`, MCP tasks (2025-11-25, and the 2026-07-28 tasks extension) are bound to the
 *   identity whose task-augmented `tools/call` created them (`policy/bindings.ts`, learnt from the
 *   answer): `tasks/get`, `tasks/result`, `tasks/update`, `tasks/cancel` → 403 (`task_not_owned`)
 *   for a task id not bound to the token's identity (another user's, or one the guard never saw
 *   created), and so is a `subscriptions/listen` whose `params.notifications.taskIds` names such a
 *   task (its notifications carry the task's result), and any message whose
 *   `params._meta["io.modelcontextprotocol/related-task"]` names such a task; `tasks/list` answers
 *   list only the token's own tasks (also with `filterLists: false`: this is not a convenience
 *   filter), without a `nextCursor` when another identity's tasks were removed (a cursor may name one).
 *
 * A map that is not configured is not enforced (default deny applies per configured map). Every other
 * method (`initialize`, `ping`, the `…/list` calls, notifications such as `notifications/initialized`,
 * responses) needs only the base scopes (`requiredScopes` and the route's scopes); the list answers
 * are filtered instead (`resources/templates/list` too: a template stays when a resource it may
 * name can be read, `compileTemplateRules`). Deliberately not checked: tool arguments (use
 * `hasScopes()` in the handler), anything not in a JSON body.
 */
import { InsufficientScopeError, InvalidRequestError } from '../errors.js';
import { knownScopesOf, type Config } from '../options.js';
import type { AuthInfo } from '../types.js';
import { Bindings } from './bindings.js';
import { isObject, metaOf, own, RELATED_TASK } from './jsonrpc.js';
import { findListCalls, LIST_KEYS, listCallsByShape, type ListCalls, type ListMethod } from './lists.js';
import { compileNameRules, compilePrefixRules, compileTemplateRules, type Resolver } from './resolve.js';
import { holdsAll, stepUpScopes } from './scopes.js';

/** A compiled policy. */
export interface Policy {
  /**
   * Check a parsed body against a token: throws an `InvalidRequestError` (400, reason
   * `invalid_tool_call`) when a checked call names no string target, an `InsufficientScopeError`
   * with reason `tool_not_allowed` and no `scope` when no rule maps a tool, prompt or resource, and
   * one with reason `insufficient_scope` whose `scope` is `base` ∪ every call's scopes ∪ the known
   * scopes the token holds, when scopes are missing. One denied element denies a whole batch.
   * Returns the name of the first tool called, if any (for events).
   */
  check(body: unknown, auth: AuthInfo, base?: readonly string[]): string | undefined;
  /** The calls of a body whose answers this policy filters or reads (lists, task creations, 2026 `resources/read` for its `cacheScope`), or `undefined`. */
  listCalls(body: unknown): ListCalls | undefined;
  /** The list methods whose answers this policy filters (none: no list is filtered). */
  filteredLists: readonly ListMethod[];
  /** The list answers of a replayed payload, told by their shape (`listCallsByShape`), or `undefined`. */
  replayedListCalls(payload: unknown): ListCalls | undefined;
  /** True when `auth` may use `entry` of a `method` answer (a tool, prompt, resource, resource template (one of its resources may be), or task). */
  allows(method: ListMethod, entry: unknown, auth: AuthInfo): boolean;
  /** Tasks created by answers to `auth`'s requests: bound to its identity. */
  tasksCreated(taskIds: readonly string[], auth: AuthInfo): void;
  /** Forget every task binding (the guard closed). */
  close(): void;
}

type Kind = 'tool' | 'prompt' | 'resource';

/** Methods that act on the task `params.taskId` names (2025-11-25; `tasks/update` is 2026-07-28's). */
const TASK_METHODS: ReadonlySet<string> = new Set(['tasks/get', 'tasks/result', 'tasks/update', 'tasks/cancel']);

/** `subscriptions/listen` (MCP 2026-07-28): `params.notifications[field]`, which must be an array of strings when present. */
function listenList(params: unknown, field: 'taskIds' | 'resourceSubscriptions'): readonly string[] {
  const notifications = isObject(params) ? own(params, 'notifications') : undefined;
  const list = isObject(notifications) ? own(notifications, field) : undefined;
  if (list === undefined) return [];
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
    throw new InvalidRequestError({ reason: 'invalid_tool_call', description: `subscriptions/listen needs params.notifications.${field} to be an array of strings` });
  }
  return list as string[];
}

function invalidCall(method: string, path: string): InvalidRequestError {
  return new InvalidRequestError({ reason: 'invalid_tool_call', description: `${method} needs a string ${path}` });
}

/**
 * Compile the policy of a configuration, or `undefined` when none of `toolScopes`, `promptScopes`,
 * `resourceScopes` is configured (then only `requiredScopes` and route scopes apply).
 *
 * @param knownScopes the scopes the server knows ({@link knownScopesOf}): the held scopes a 403 repeats.
 */
export function compilePolicy(c: Config, knownScopes: ReadonlySet<string> = knownScopesOf(c)): Policy | undefined {
  if (!c.toolScopes && !c.promptScopes && !c.resourceScopes) return undefined;
  const resolvers: Readonly<Record<Kind, Resolver | undefined>> = {
    tool: c.toolScopes && compileNameRules(c.toolScopes),
    prompt: c.promptScopes && compileNameRules(c.promptScopes),
    resource: c.resourceScopes && compilePrefixRules(c.resourceScopes),
  };
  const tasks = resolvers.tool ? new Bindings(c.cacheMaxEntries) : undefined;
  const listMethods = new Set<string>();
  if (c.filterLists) {
    if (resolvers.tool) listMethods.add('tools/list');
    if (resolvers.prompt) listMethods.add('prompts/list');
    if (resolvers.resource) {
      listMethods.add('resources/list');
      listMethods.add('resources/templates/list');
    }
  }
  if (tasks) {
    listMethods.add('tasks/list');
    listMethods.add('tools/call');
  }
  // A read the resource rules gate is this token's: its answer goes out cacheScope "private".
  if (resolvers.resource) listMethods.add('resources/read');
  const listKind: Readonly<Record<Exclude<ListMethod, 'tasks/list' | 'resources/templates/list'>, Kind>> = { 'tools/list': 'tool', 'prompts/list': 'prompt', 'resources/list': 'resource' };
  const templateRules = c.resourceScopes && compileTemplateRules(c.resourceScopes);
  const entryField: Readonly<Record<Kind, 'name' | 'uri'>> = { tool: 'name', prompt: 'name', resource: 'uri' };

  /** The target of one message: which map, which name; `undefined` when the method is not checked. */
  function target(msg: Record<string, unknown>, method: string): { kind: Kind; name: string } | undefined {
    let kind: Kind;
    let field: 'name' | 'uri';
    let holder: unknown = own(msg, 'params');
    let where = 'params';
    switch (method) {
      case 'tools/call': kind = 'tool'; field = 'name'; break;
      case 'prompts/get': kind = 'prompt'; field = 'name'; break;
      case 'resources/read':
      case 'resources/subscribe': kind = 'resource'; field = 'uri'; break;
      case 'completion/complete': {
        holder = isObject(holder) ? own(holder, 'ref') : undefined;
        where = 'params.ref';
        const type = isObject(holder) ? own(holder, 'type') : undefined;
        if (type === 'ref/prompt') { kind = 'prompt'; field = 'name'; } else if (type === 'ref/resource') { kind = 'resource'; field = 'uri'; } else return undefined;
        break;
      }
      default: return undefined;
    }
    if (!resolvers[kind]) return undefined;
    const name = isObject(holder) ? own(holder, field) : undefined;
    if (typeof name !== 'string') throw invalidCall(method, `${where}.${field}`);
    return { kind, name };
  }

  function check(body: unknown, auth: AuthInfo, base: readonly string[] = []): string | undefined {
    const messages = Array.isArray(body) ? body : [body];
    const needed = new Set(base);
    let firstTool: string | undefined;
    let unmapped: { kind: Kind; name: string } | undefined;
    let lacking: { kind: Kind; name: string } | undefined;
    let notOwned = false;
    /** `t` must be allowed: its rule's scopes join `needed`. */
    const need = (t: { kind: Kind; name: string }): void => {
      const scopes = resolvers[t.kind]!(t.name);
      if (scopes === undefined) {
        unmapped ??= t;
        return;
      }
      for (const s of scopes) needed.add(s);
      if (!lacking && !holdsAll(auth.scopes, scopes)) lacking = t;
    };
    for (const msg of messages) {
      if (!isObject(msg)) continue;
      const method = own(msg, 'method');
      if (typeof method !== 'string') continue;
      if (tasks) {
        const params = own(msg, 'params');
        // Any message may name a task it belongs to (the SDK then acts on that task: its status,
        // its queued messages): it must be one of this identity's.
        const meta = metaOf(msg);
        const related = meta ? own(meta, RELATED_TASK) : undefined;
        if (related !== undefined) {
          const relatedId = isObject(related) ? own(related, 'taskId') : undefined;
          if (typeof relatedId !== 'string') throw invalidCall(method, `params._meta["${RELATED_TASK}"].taskId`);
          if (!tasks.owns(relatedId, auth)) notOwned = true;
        }
        if (TASK_METHODS.has(method)) {
          const taskId = isObject(params) ? own(params, 'taskId') : undefined;
          if (typeof taskId !== 'string') throw invalidCall(method, 'params.taskId');
          if (!tasks.owns(taskId, auth)) notOwned = true;
          continue;
        }
      }
      if (method === 'subscriptions/listen') {
        // Its task notifications carry results; its resource updates are the resources'.
        const params = own(msg, 'params');
        if (tasks) for (const taskId of listenList(params, 'taskIds')) if (!tasks.owns(taskId, auth)) notOwned = true;
        if (resolvers.resource) for (const uri of listenList(params, 'resourceSubscriptions')) need({ kind: 'resource', name: uri });
        continue;
      }
      const t = target(msg, method);
      if (!t) continue;
      if (t.kind === 'tool') firstTool ??= t.name;
      need(t);
    }
    if (unmapped) {
      throw new InsufficientScopeError({
        reason: 'tool_not_allowed',
        scope: [],
        tool: unmapped.kind === 'tool' ? unmapped.name : undefined,
        description: `No ${unmapped.kind} policy rule allows this call`,
      });
    }
    if (notOwned) {
      throw new InsufficientScopeError({ reason: 'task_not_owned', scope: [], description: 'The task is not one this token\'s identity created' });
    }
    const all = [...needed];
    if (!holdsAll(auth.scopes, all)) {
      throw new InsufficientScopeError({
        reason: 'insufficient_scope',
        scope: stepUpScopes(all, auth.scopes, knownScopes),
        tool: lacking?.kind === 'tool' ? lacking.name : undefined,
      });
    }
    return firstTool;
  }

  function allows(method: ListMethod, entry: unknown, auth: AuthInfo): boolean {
    if (method === 'tasks/list') {
      const taskId = isObject(entry) ? own(entry, 'taskId') : undefined;
      // (Watched only when tasks are bound.)
      return typeof taskId === 'string' && tasks!.owns(taskId, auth);
    }
    if (method === 'resources/templates/list') {
      // (Watched only under resourceScopes.) Listed when some resource it names may be read.
      const uriTemplate = isObject(entry) ? own(entry, 'uriTemplate') : undefined;
      return typeof uriTemplate === 'string' && templateRules!(uriTemplate).some((needed) => needed !== undefined && holdsAll(auth.scopes, needed));
    }
    const kind = listKind[method];
    const resolve = resolvers[kind];
    if (!resolve) return true;
    if (!isObject(entry)) return false;
    const name = own(entry, entryField[kind]);
    if (typeof name !== 'string') return false;
    const needed = resolve(name);
    return needed !== undefined && holdsAll(auth.scopes, needed);
  }

  function tasksCreated(taskIds: readonly string[], auth: AuthInfo): void {
    // (Read only when tasks are bound.)
    for (const id of taskIds) tasks!.bind(id, auth);
  }

  const filteredLists: readonly ListMethod[] = Object.freeze((Object.keys(LIST_KEYS) as ListMethod[]).filter((m) => listMethods.has(m)));
  return Object.freeze({
    check,
    listCalls: (body: unknown) => findListCalls(body, listMethods),
    filteredLists,
    replayedListCalls: (payload: unknown) => listCallsByShape(payload, filteredLists),
    allows,
    tasksCreated,
    close: () => tasks?.clear(),
  });
}

