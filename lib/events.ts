/**
 * Decision and key/introspection events (`onEvent`). Plain objects, never token material:
 * no token, no part of it, no hash of it. A listener that throws never affects a request.
 */
import type { McpAuthErrorCode, McpAuthErrorReason } from './errors.js';

/** Kind of token a decision was about. */
export type TokenKind = 'jwt' | 'opaque' | 'none';

/** One event. `type` tells which fields are set. */
export type GuardEvent =
  | { type: 'allow'; tokenKind: TokenKind; issuer?: string; kid?: string; clientId?: string; tool?: string; cached: boolean; durationMs: number }
  | { type: 'deny'; code: McpAuthErrorCode; reason: McpAuthErrorReason; status: number; tokenKind: TokenKind; issuer?: string; kid?: string; clientId?: string; tool?: string; cached: boolean; durationMs: number }
  | { type: 'keys_refreshed'; jwksUri: string; keyCount: number }
  | { type: 'keys_refresh_failed'; jwksUri: string; reason: string }
  | { type: 'stale_keys_served'; jwksUri: string; ageSeconds: number }
  | { type: 'introspection_failed'; url: string; reason: string; status?: number }
  | { type: 'misconfigured'; reason: string }
  | { type: 'list_unfiltered'; method: string; reason: string };

/** Build an emitter that calls `listener` and swallows what it throws; `undefined` when there is no listener. */
export function makeEmitter(listener: ((event: GuardEvent) => void) | undefined): ((event: GuardEvent) => void) | undefined {
  if (!listener) return undefined;
  return function emit(event: GuardEvent): void {
    try {
      listener(event);
    } catch {
      // A listener's failure never affects a request.
    }
  };
}
