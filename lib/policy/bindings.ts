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
 * principal (a user, whatever its clients: the issuer and `sub`; without a `sub`, the client,
 * whatever its tokens; with neither, the token itself). A principal at its quota gives up its least
 * recently used id (a use by the owner counts, a refused one does not), the binding identity's own
 * before its other identities': one user or client opening sessions or creating tasks by the
 * thousand pushes out its own bindings, not everyone else's, and an id in use outlives ids bound
 * later (it would take ten principals at full quota to reach the global bound). Ids longer than
 * {@link MAX_BOUND_ID_LENGTH} are never bound.
 */
import { LRUCache } from 'lru-cache';
import type { AuthInfo } from '../types.js';
import { tokenDigest } from '../verify/cache.js';

/** Longest id bound (the SDK's session and task ids are UUIDs); a longer one is never bound, so never owned. */
export const MAX_BOUND_ID_LENGTH = 1024;

/** Who a token speaks for, and the principal whose quota its bindings count against. */
interface Owner {
  /** Issuer, subject, client (or the token itself without a string `sub`): who may use an id. */
  identity: string;
  /** Issuer and subject, else issuer and client: one user's clients, or one client's sub-less tokens, share a quota. */
  principal: string;
}

/** Owners worked out, per cached `AuthInfo` (one object serves every request with its token). */
const owners = new WeakMap<AuthInfo, Owner>();

/** Who a token speaks for (JSON: no field runs into another); see the header. */
function ownerOf(info: AuthInfo): Owner {
  let owner = owners.get(info);
  if (owner === undefined) {
    owner = workOutOwner(info);
    owners.set(info, owner);
  }
  return owner;
}

function workOutOwner(info: AuthInfo): Owner {
  const extra = (info.extra ?? {}) as { iss?: unknown; sub?: unknown; cid?: unknown };
  const iss = String(extra.iss ?? '');
  const client = info.clientId !== '' ? info.clientId : typeof extra.cid === 'string' ? extra.cid : '';
  if (typeof extra.sub !== 'string' || extra.sub === '') {
    const identity = JSON.stringify(['token', tokenDigest(info.token)]);
    // Without a client either (a minimal introspection answer), the token is its own principal:
    // a shared "nobody" principal would let one such token push out all the others' bindings.
    return { identity, principal: client === '' ? identity : JSON.stringify([iss, 'client', client]) };
  }
  return { identity: JSON.stringify([iss, extra.sub, client]), principal: JSON.stringify([iss, 'sub', extra.sub]) };
}

/**
 * Whose share of the DPoP replay record a token's proofs count against: its identity (issuer,
 * subject, client: one user's client, whatever its keys and tokens), or, without a `sub`, its
 * principal (the client, whatever its tokens; with no client either, the token itself), so that a
 * client minting tokens without users does not get a share per token.
 */
export function quotaOwnerOf(info: AuthInfo): string {
  const extra = (info.extra ?? {}) as { sub?: unknown };
  const owner = ownerOf(info);
  return typeof extra.sub === 'string' && extra.sub !== '' ? owner.identity : owner.principal;
}

/** Remove `id` from `key`'s set, and the set once empty. */
function forget(sets: Map<string, Set<string>>, key: string, id: string): void {
  const ids = sets.get(key);
  if (ids?.delete(id) && ids.size === 0) sets.delete(key);
}

/** Make `id` the most recently used of its set. */
function touch(ids: Set<string> | undefined, id: string): void {
  if (ids?.delete(id)) ids.add(id);
}

/** Id → the owner it is bound to. */
export class Bindings {
  /** Made at the first binding (`lru-cache` allocates its bound up front; a stateless server never binds). */
  #owners: LRUCache<string, Owner> | undefined;
  /** Each principal's ids, and each identity's, least recently used first. */
  readonly #byPrincipal = new Map<string, Set<string>>();
  readonly #byIdentity = new Map<string, Set<string>>();
  readonly #maxEntries: number;
  readonly #perPrincipal: number;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
    this.#perPrincipal = Math.max(1, Math.ceil(maxEntries / 10));
  }

  #store(): LRUCache<string, Owner> {
    return (this.#owners ??= new LRUCache<string, Owner>({
      max: this.#maxEntries,
      // However an id goes (evicted, pushed out by its principal's quota, cleared): out of its principal's set.
      dispose: (owner, id) => {
        forget(this.#byPrincipal, owner.principal, id);
        forget(this.#byIdentity, owner.identity, id);
      },
    }));
  }

  /**
   * Bind `id` to `info`'s identity, unless it is bound already (when it is issued or created). A
   * principal at its quota gives up its least recently used id of this very identity, else its
   * least recently used id: one client of a user churning sessions or tasks pushes out its own
   * before the user's other clients'.
   */
  bind(id: string, info: AuthInfo): void {
    const store = this.#store();
    if (id.length > MAX_BOUND_ID_LENGTH || store.has(id)) return;
    const owner = ownerOf(info);
    const ids = this.#byPrincipal.get(owner.principal) ?? new Set<string>();
    if (ids.size >= this.#perPrincipal) {
      // (Its dispose may drop the emptied sets from the maps: both are set again below.)
      store.delete(this.#byIdentity.get(owner.identity)?.values().next().value ?? ids.values().next().value!);
    }
    const own = this.#byIdentity.get(owner.identity) ?? new Set<string>();
    ids.add(id);
    own.add(id);
    this.#byPrincipal.set(owner.principal, ids);
    this.#byIdentity.set(owner.identity, own);
    store.set(id, owner);
  }

  /** Whether `id` is bound to `info`'s identity (when it is used: then it is its principal's most recently used). */
  owns(id: string, info: AuthInfo): boolean {
    // peek: a refused use (another identity's) refreshes nothing.
    const owner = this.#owners?.peek(id);
    if (owner === undefined || owner.identity !== ownerOf(info).identity) return false;
    this.#owners!.get(id);
    touch(this.#byPrincipal.get(owner.principal), id);
    touch(this.#byIdentity.get(owner.identity), id);
    return true;
  }

  /** Forget `id` if it is bound to `info`'s identity (its owner ended it): nobody's from now on. */
  release(id: string, info: AuthInfo): void {
    const owner = this.#owners?.peek(id);
    if (owner !== undefined && owner.identity === ownerOf(info).identity) this.#owners!.delete(id);
  }

  /** Forget every binding (the guard closed). */
  clear(): void {
    this.#owners?.clear();
  }
}
