/**
 * Asking again about the token of a long-lived stream. A request is checked once, but a `GET`
 * event stream or a `subscriptions/listen` answer may stay open for hours: with an introspected
 * token, a revocation would otherwise go unseen there until the token's `exp`, while every new
 * request sees it within `cacheMaxAgeSeconds` (the verification cache's bound). So a stream relies on
 * an introspection answer exactly as long as a request would: once the answer is
 * `cacheMaxAgeSeconds` old ({@link Verifier.askAgainAt}), the token is verified again (the cache,
 * refreshed by the client's other requests, or one coalesced introspection). The stream goes on
 * only if the answer is still good for the same grant: the same identity (issuer, subject, client),
 * the same scopes and the same bound key. `lib/express/stream-expiry.ts` asks at the stream's first
 * write after that instant and holds the writes until the answer.
 *
 * JWTs are not asked again: nothing but their `exp` ends them.
 */
import { McpAuthError } from '../errors.js';
import type { StreamEndReason } from '../events.js';
import { identityOf } from '../policy/bindings.js';
import type { AuthInfo } from '../types.js';
import { boundKeyOf } from './claims.js';
import type { Verifier } from './index.js';

/** What asking again decided: go on (until the new `expiresAtMs`, asking again at `askAgainAtMs`), or end. */
export type Recheck = { expiresAtMs: number; askAgainAtMs: number } | { reason: StreamEndReason };

/** How a stream's token is asked about again: first at `atMs`, then as each answer says. */
export interface StreamRecheck {
  atMs: number;
  run: () => Recheck | Promise<Recheck>;
}

/** Same scopes, in any order. */
function sameScopes(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((s) => set.has(s));
}

/** `now` grants what `then` did: the same identity, scopes and bound key (the resource is the guard's). */
function sameGrant(then: AuthInfo, now: AuthInfo): boolean {
  return identityOf(then) === identityOf(now) && sameScopes(then.scopes, now.scopes) && boundKeyOf(then) === boundKeyOf(now);
}

/** A refusal on asking again: the token's fault (401), else the authorization server's or the guard's. */
function refused(err: unknown): Recheck {
  return { reason: err instanceof McpAuthError && err.status === 401 ? 'token_revoked' : 'recheck_failed' };
}

/**
 * The recheck of a stream `info` opened, `undefined` when its token is not introspected.
 * `toleranceSeconds` is `clockTolerance`: a stream ends when the guard stops accepting the token.
 */
export function streamRecheck(verifier: Verifier, info: AuthInfo, toleranceSeconds: number): StreamRecheck | undefined {
  const atMs = verifier.askAgainAt(info);
  if (atMs === undefined) return undefined;
  const judge = (now: AuthInfo): Recheck => {
    const again = verifier.askAgainAt(now);
    if (again === undefined || now.expiresAt === undefined || (now !== info && !sameGrant(info, now))) return { reason: 'token_changed' };
    return { expiresAtMs: (now.expiresAt + toleranceSeconds) * 1000, askAgainAtMs: again };
  };
  return {
    atMs,
    run() {
      let result: AuthInfo | Promise<AuthInfo>;
      try {
        result = verifier.verify(info.token);
      } catch (err) {
        return refused(err);
      }
      return result instanceof Promise ? result.then(judge, refused) : judge(result);
    },
  };
}
