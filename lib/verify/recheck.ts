/**
 * Asking again about the token of a long-lived stream. A request is checked once, but a `GET`
 * event stream or a `subscriptions/listen` answer may stay open for hours: with an introspected
 * token, a revocation would otherwise go unseen there until the token's `exp`, while every new
 * request sees it within `cacheMaxAgeSeconds` (the verification cache's bound). So a stream relies on
 * an introspection answer exactly as long as a request would: once the answer is
 * `cacheMaxAgeSeconds` old, or at its `exp` ({@link Verifier.answerSpan}), the token is verified
 * again ({@link Verifier.recheck}: the cache, refreshed by the client's other requests, or one
 * coalesced introspection that waits for a slot rather than being refused by
 * `introspection.maxConcurrent`). The stream goes on only if the answer is still good for the
 * same grant: the same issuer, subject and client, the same scopes and the same bound key; then
 * until the new answer's `exp` + `clockTolerance` (no `exp`: until it is asked about again).
 * `lib/express/stream-expiry.ts` asks at the stream's first write after that instant (or before
 * the answer came: a clock stepped back, as the cache drops such entries) and holds the writes
 * until the answer.
 *
 * JWTs are not asked again: nothing but their `exp` ends them.
 */
import { McpAuthError } from '../errors.js';
import type { StreamEndReason } from '../events.js';
import type { Config } from '../options.js';
import type { AuthInfo } from '../types.js';
import { boundKeyOf } from './claims.js';
import type { Verifier } from './index.js';

/**
 * When a stream relies on an introspection answer: from when it came (`answeredAtMs`) until it is
 * older than `cacheMaxAgeSeconds` or reaches its `exp` (`askAgainAtMs`), and until the token's
 * `exp` + `clockTolerance` (`expiresAtMs`; `Infinity` when the answer named no `exp`: then only
 * asking again can end it). A JWT's span is its `exp` + `clockTolerance` alone.
 */
export interface AnswerSpan {
  answeredAtMs: number;
  askAgainAtMs: number;
  expiresAtMs: number;
}

/** What asking again decided: go on (on the new answer's span), or end. */
export type Recheck = AnswerSpan | { reason: StreamEndReason };

/** How a stream's token is asked about again: the span of the answer it opened with, and `run`. */
export interface StreamRecheck {
  span: AnswerSpan;
  /** `wanted`: whether the stream still waits for the answer (its client has not left). */
  run: (wanted: () => boolean) => Recheck | Promise<Recheck>;
}

/** Same scopes, in any order. */
function sameScopes(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((s) => set.has(s));
}

/**
 * `now` grants what `then` did: the same issuer, subject and client (`client_id`, `azp`, `appid`,
 * Okta's `cid`), scopes and bound key (the resource is the guard's).
 */
function sameGrant(then: AuthInfo, now: AuthInfo): boolean {
  const a = then.extra ?? {};
  const b = now.extra ?? {};
  return then.clientId === now.clientId && a.cid === b.cid && a.iss === b.iss && a.sub === b.sub
    && sameScopes(then.scopes, now.scopes) && boundKeyOf(then) === boundKeyOf(now);
}

/**
 * The recheck of a stream `info` opened, `undefined` when its token is not introspected.
 * `clockTolerance` and `clock`: the guard's.
 */
export function streamRecheck(verifier: Verifier, info: AuthInfo, { clockTolerance, clock }: Pick<Config, 'clockTolerance' | 'clock'>): StreamRecheck | undefined {
  let span = verifier.answerSpan(info);
  // (A JWT's stream, the common case: nothing is built.)
  if (span === undefined) return undefined;
  const judge = (now: AuthInfo): Recheck => {
    const next = verifier.answerSpan(now);
    if (next === undefined || (now !== info && !sameGrant(info, now))) return { reason: 'token_changed' };
    span = next;
    return next;
  };
  /** A refusal: the token's fault (401: past its `exp`, or refused otherwise), else the authorization server's or the guard's. */
  const refused = (err: unknown): Recheck => {
    if (!(err instanceof McpAuthError) || err.status !== 401) return { reason: 'recheck_failed' };
    // (An authorization server answers "inactive" for an expired token too.)
    const pastExp = clock() >= span!.expiresAtMs - clockTolerance * 1000;
    return { reason: err.reason === 'token_expired' || pastExp ? 'token_expired' : 'token_revoked' };
  };
  return {
    span,
    run(wanted) {
      let result: AuthInfo | Promise<AuthInfo>;
      try {
        result = verifier.recheck(info.token, wanted);
      } catch (err) {
        return refused(err);
      }
      return result instanceof Promise ? result.then(judge, refused) : judge(result);
    },
  };
}
