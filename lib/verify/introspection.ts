/**
 * RFC 7662 token introspection through `openid-client` (issue: opaque tokens).
 * Placeholder until introspection lands: every opaque token is answered 503, never accepted.
 */
import { AuthUnavailableError } from '../errors.js';
import type { GuardEvent } from '../events.js';
import type { Config } from '../options.js';
import type { Discovery } from './discovery.js';

/** Claims of an active token, validated; `exp` in seconds when the server sent one. */
export interface IntrospectedClaims {
  claims: Record<string, unknown>;
  exp: number | undefined;
}

/** Build the introspection verifier. */
export function introspectionVerifier(
  _c: Config,
  _discovery: Discovery,
  _emit: ((event: GuardEvent) => void) | undefined,
): (token: string) => Promise<IntrospectedClaims> {
  return async function introspect(): Promise<IntrospectedClaims> {
    throw new AuthUnavailableError({ reason: 'introspection_unavailable', description: 'Token introspection is not available' });
  };
}
