/**
 * Sessions bound to the identity that uses them (MCP security best practices, "Session
 * Hijacking": servers must not take a session for authentication and should bind session ids to
 * the user). A Streamable HTTP session id (`Mcp-Session-Id`) belongs to the first identity that
 * sends it: the client that got it from its `initialize` answer sends it with its very next
 * request. Another identity presenting it is refused as if the session did not exist.
 *
 * The identity is the token's issuer, subject and client: a new token of the same client and user
 * (a refresh) keeps the session; another user, or another client of the same user, does not.
 * Bounded (least recently used first); an id forgotten that way is bound again by its next user,
 * as after a restart.
 */
import { LRUCache } from 'lru-cache';
import type { AuthInfo } from '../types.js';

/** Longest session id bound (the MCP transport's ids are short: the SDK's are UUIDs). Longer ones are refused. */
export const MAX_SESSION_ID_LENGTH = 1024;

/** Who a token speaks for: issuer, subject, client. */
function identityOf(info: AuthInfo): string {
  const extra = info.extra as { iss?: unknown; sub?: unknown } | undefined;
  return JSON.stringify([String(extra?.iss ?? ''), String(extra?.sub ?? ''), info.clientId]);
}

/** Session id → the identity it is bound to. */
export class SessionBindings {
  readonly #owners: LRUCache<string, string>;

  constructor(maxEntries: number) {
    this.#owners = new LRUCache({ max: maxEntries });
  }

  /**
   * Whether `info` may use the session `id`: bound to its identity (binding it when unknown), and
   * not longer than {@link MAX_SESSION_ID_LENGTH}.
   */
  admits(id: string, info: AuthInfo): boolean {
    if (id.length > MAX_SESSION_ID_LENGTH) return false;
    const identity = identityOf(info);
    const owner = this.#owners.get(id);
    if (owner === undefined) {
      this.#owners.set(id, identity);
      return true;
    }
    return owner === identity;
  }

  /** Forget every binding (the guard closed). */
  clear(): void {
    this.#owners.clear();
  }
}
