/**
 * `AuthInfo`: the shape of `@modelcontextprotocol/sdk`'s `AuthInfo` (server/auth/types), so that
 * `StreamableHTTPServerTransport` reads `req.auth` and hands it to tool handlers as
 * `extra.authInfo`. Declared here so the guard does not depend on the SDK.
 */
export interface AuthInfo {
  /** The access token (never logged or echoed by the guard). */
  token: string;
  /** `client_id`, else `azp`, else `appid`, else `''`. */
  clientId: string;
  /** Scopes granted (`scope` or `scp`). */
  scopes: string[];
  /** Expiry in seconds since the epoch; always set. */
  expiresAt?: number;
  /** The protected resource (the configured `resource`). */
  resource?: URL;
  /** `iss`, `sub`, `aud` and every other claim. */
  extra?: Record<string, unknown>;
}
