/**
 * Ids bound to the identity that owns them: a Streamable HTTP session (`Mcp-Session-Id`) and an MCP
 * task (`taskId`) belong to who the token that made them speaks for.
 *
 * - Sessions (MCP security best practices, "Session Hijacking": servers must not take a session
 *   for authentication and should bind session ids to the user) are bound when the `initialize`
 *   answer issuing them is seen; tasks (MCP 2025-11-25: bound to the authorization context that
 *   created them) when the `tools/call` answer creating them is seen. Then only their owner may use
 *   them ({@link Bindings.owns}): an id the guard never saw issued (never issued at all, issued by
 *   another process, before a restart, or forgotten) is nobody's.
 * - The identity is the issuer, the subject and the client (`client_id`, `azp`, `appid`, Okta's
 *   `cid`): a new token of the same client and user (a refresh) is the same identity; another user,
 *   or another client of the same user, is not. A token without a string `sub` (RFC 7662 makes it
 *   optional; non-strict JWTs may lack it) cannot tell its user from the client's others: it is its
 *   own identity (a digest of the token), so a refresh means a new session.
 *
 * Bounded: at most `maxEntries` ids (least recently used first), and at most a tenth of that per
 * identity, whose own oldest id goes first: one identity opening sessions or creating tasks by the
 * thousand pushes out its own bindings, not everyone else's (it would take ten identities at full
 * quota to reach the global bound). Ids longer than {@link MAX_BOUND_ID_LENGTH} are never bound.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { AuthInfo } from '../types.js';

/** Longest id bound (the SDK's session and task ids are UUIDs); a longer one is never bound, so never owned. */
export const MAX_BOUND_ID_LENGTH = 1024;

/** Identities worked out, per cached `AuthInfo` (one object serves every request with its token). */
const identities = new WeakMap<AuthInfo, string>();

/** Who a token speaks for: issuer, subject, client (JSON: no field runs into another); see the header. */
function identityOf(info: AuthInfo): string {
  let identity = identities.get(info);
  if (identity === undefined) {
    identity = workOutIdentity(info);
    identities.set(info, identity);
  }
  return identity;
}

function workOutIdentity(info: AuthInfo): string {
  const extra = (info.extra ?? {}) as { iss?: unknown; sub?: unknown; cid?: unknown };
  const client = info.clientId !== '' ? info.clientId : typeof extra.cid === 'string' ? extra.cid : '';
  if (typeof extra.sub !== 'string' || extra.sub === '') return JSON.stringify(['token', createHash('sha256').update(info.token).digest('base64url')]);
  return JSON.stringify([String(extra.iss ?? ''), extra.sub, client]);
}

/** Id → the identity it is bound to. */
export class Bindings {
  readonly #owners: LRUCache<string, string>;
  /** Each identity's ids, oldest first. */
  readonly #byIdentity = new Map<string, Set<string>>();
  readonly #perIdentity: number;

  constructor(maxEntries: number) {
    this.#perIdentity = Math.max(1, Math.ceil(maxEntries / 10));
    this.#owners = new LRUCache({
      max: maxEntries,
      // However an id goes (evicted, pushed out by its identity's quota, cleared): out of its identity's set.
      dispose: (identity, id) => {
        const ids = this.#byIdentity.get(identity);
        if (ids?.delete(id) && ids.size === 0) this.#byIdentity.delete(identity);
      },
    });
  }

  /** Bind `id` to `info`'s identity, unless it is bound already (when it is issued or created). */
  bind(id: string, info: AuthInfo): void {
    if (id.length > MAX_BOUND_ID_LENGTH || this.#owners.has(id)) return;
    const identity = identityOf(info);
    const ids = this.#byIdentity.get(identity) ?? new Set<string>();
    // (Its dispose may drop the identity's emptied set from the map: set again below.)
    if (ids.size >= this.#perIdentity) this.#owners.delete(ids.values().next().value!);
    ids.add(id);
    this.#byIdentity.set(identity, ids);
    this.#owners.set(id, identity);
  }

  /** Whether `id` is bound to `info`'s identity (when it is used). */
  owns(id: string, info: AuthInfo): boolean {
    return this.#owners.get(id) === identityOf(info);
  }

  /** Forget every binding (the guard closed). */
  clear(): void {
    this.#owners.clear();
  }
}
