/**
 * JSON-RPC message → scopes (MCP tool policy). Placeholder until the tool-policy issue lands:
 * the guard applies `requiredScopes` and route scopes only.
 */
import type { Config } from '../options.js';
import type { AuthInfo } from '../types.js';

/** A compiled policy: checks a parsed JSON-RPC body against a token's scopes (throws on denial). */
export interface Policy {
  /** Throw an `InsufficientScopeError` or `InvalidRequestError` when `body` may not run with `auth`. */
  check(body: unknown, auth: AuthInfo): void;
}

/** Compile the policy of a configuration, or `undefined` when none is configured. */
export function compilePolicy(_c: Config): Policy | undefined {
  return undefined;
}
