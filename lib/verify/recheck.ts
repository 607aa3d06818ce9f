/**
 * Asking again about the token of a long-lived stream. A request is checked once, but a `GET`
 * event stream or a `subscriptions/listen` answer may stay open for hours: with an introspected
 * token, a revocation would otherwise go unseen there until the token's `exp`, while every new
 * request sees it within `cacheMaxAgeSeconds` (the verification cache's bound). So a stream relies on
 * an introspection answer exactly as long as a request would: once the answer is
 * `cacheMaxAgeSeconds` old ({@link Verifier.answerOf}), the token is verified again (the cache,
 * refreshed by the client's other requests, or one coalesced introspection that waits for a slot
 * rather than being refused by `introspection.maxConcurrent`). The stream goes on only if the
 * answer is still good for the same grant: the same identity (issuer, subject, client), the same
 * scopes and the same bound key; then until the new answer's `exp` (none: until it is asked about
 * again). `lib/express/stream-expiry.ts` asks at the stream's first write after that instant (or
 * before the answer came: a clock stepped back, as the cache drops such entries) and holds the
 * writes until the answer.
 *
 * JWTs are not asked again: nothing but their `exp` ends them.
 */
import { McpAuthError } from '../errors.js';
import type { StreamEndReason } from '../events.js';
import { identityOf } from '../policy/bindings.js';
import type { Config } from '../options.js';
import type { AuthInfo } from '../types.js';
import { boundKeyOf } from './claims.js';
import type { Verifier } from './index.js';

/**
 * When a stream relies on an introspection answer: from when it came (`answeredAtMs`) until it is
 * older than `cacheMaxAgeSeconds` (`askAgainAtMs`), and until the token's `exp` + `clockTolerance`
 * (`expiresAtMs`; `Infinity` when the answer named no `exp`: then asking again ends it).
 */
export interface AnswerSpan {
  answeredAtMs: number;
  askAgainAtMs: number;
  expiresAtMs: number;
}

/** What asking again decided: go on (on the new answer's span), or end. */
export type Recheck = AnswerSpan | { reason: StreamEndReason };

/** How a stream's token is asked about again: the span of the answer it opened with, and `run`. */
export interface StreamRecheck extends AnswerSpan {
  run: () => Recheck | Promise<Recheck>;
}

/** Same scopes, in any order. */
function sameScopes(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((s) => set.has(s));
}

/**
 * `now` grants what `then` did: the same issuer, subject and client (also without a `sub`, when the
 * identity is the token itself), scopes and bound key (the resource is the guard's).
 */
function sameGrant(then: AuthInfo, now: AuthInfo): boolean {
  return identityOf(then) === identityOf(now)
    && then.clientId === now.clientId
    && then.extra?.iss === now.extra?.iss
    && then.extra?.sub === now.extra?.sub
    && sameScopes(then.scopes, now.scopes)
    && boundKeyOf(then) === boundKeyOf(now);
}

/**
 * The recheck of a stream `info` opened, `undefined` when its token is not introspected.
 * `clockTolerance`: a stream ends when the guard stops accepting the token; `clock`: the guard's.
 */
export function streamRecheck(verifier: Verifier, info: AuthInfo, { clockTolerance: toleranceSeconds, clock }: Pick<Config, 'clockTolerance' | 'clock'>): StreamRecheck | undefined {
  const spanOf = (answer: AuthInfo): AnswerSpan | undefined => {
    const a = verifier.answerOf(answer);
    if (a === undefined || answer.expiresAt === undefined) return undefined;
    return { answeredAtMs: a.atMs, askAgainAtMs: a.askAgainAtMs, expiresAtMs: a.hasExp ? (answer.expiresAt + toleranceSeconds) * 1000 : Infinity };
  };
  const first = spanOf(info);
  if (first === undefined) return undefined;
  /** The `exp` (ms) of the last good answer, if it named one. */
  let expMs = verifier.answerOf(info)!.hasExp ? info.expiresAt! * 1000 : Infinity;
  const judge = (now: AuthInfo): Recheck => {
    const span = spanOf(now);
    if (span === undefined || (now !== info && !sameGrant(info, now))) return { reason: 'token_changed' };
    expMs = Number.isFinite(span.expiresAtMs) ? now.expiresAt! * 1000 : Infinity;
    return span;
  };
  /** A refusal: the token's fault (401: past its `exp`, or refused otherwise), else the authorization server's or the guard's. */
  const refused = (err: unknown): Recheck => {
    if (!(err instanceof McpAuthError) || err.status !== 401) return { reason: 'recheck_failed' };
    // (An authorization server answers "inactive" for an expired token too.)
    return { reason: err.reason === 'token_expired' || clock() >= expMs ? 'token_expired' : 'token_revoked' };
  };
  return {
    ...first,
    run() {
      let result: AuthInfo | Promise<AuthInfo>;
      try {
        result = verifier.verifyAgain(info.token);
      } catch (err) {
        return refused(err);
      }
      return result instanceof Promise ? result.then(judge, refused) : judge(result);
    },
  };
}
