/**
 * mcp-oauth-guard: OAuth 2.1 resource-server guard for MCP servers on Express.
 * This file only re-exports.
 */
import './express/types.js';

export { mcpAuth } from './guard.js';
export type { McpAuthGuard } from './guard.js';
export { fromEnv, ENV_VARIABLES } from './env.js';
export { requireScopes } from './express/protect.js';
export type { ProtectOptions } from './express/protect.js';
export { hasScopes } from './policy/scopes.js';
export {
  McpAuthError,
  MissingTokenError,
  InvalidRequestError,
  InvalidTokenError,
  InvalidDpopProofError,
  UseDpopNonceError,
  InsufficientScopeError,
  AuthUnavailableError,
  AuthMisconfiguredError,
  SessionNotFoundError,
  HeaderMismatchError,
  ConfigError,
  JSONRPC_CODES,
  isMcpAuthError,
} from './errors.js';
export type { McpAuthErrorCode, McpAuthErrorReason, BearerErrorCode } from './errors.js';
export { DEFAULT_ALGORITHMS, DEFAULT_DPOP_ALGORITHMS } from './options.js';
export type { Options, IntrospectionOptions, ScopeMap } from './options.js';
export type { AuthInfo } from './types.js';
export type { GuardEvent, ListUnfilteredReason, MisconfiguredReason, StreamEndReason, TokenKind } from './events.js';
export type { ProtectedResourceMetadata } from './metadata.js';
