/**
 * RFC 9728 protected resource metadata document.
 *
 * `resource` is exactly the configured string (clients compare it as a string; nothing is added
 * or removed), `authorization_servers` is never empty, `bearer_methods_supported` is `["header"]`;
 * with DPoP on, `dpop_signing_alg_values_supported` (and `dpop_bound_access_tokens_required` when
 * it is required).
 */
import type { Config } from './options.js';

/** The RFC 9728 document. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  bearer_methods_supported: ['header'];
  scopes_supported?: string[];
  resource_name?: string;
  resource_documentation?: string;
  /** With `dpop` on: the DPoP proof algorithms accepted (RFC 9728 §2). */
  dpop_signing_alg_values_supported?: string[];
  /** With `dpop: 'required'`: `true` (RFC 9728 §2: bearer tokens are not accepted). */
  dpop_bound_access_tokens_required?: boolean;
}

/** Build the document once, from a validated configuration. */
export function protectedResourceMetadata(c: Config): ProtectedResourceMetadata {
  const doc: ProtectedResourceMetadata = {
    resource: c.resource,
    authorization_servers: [...c.authorizationServers],
    bearer_methods_supported: ['header'],
  };
  if (c.scopesSupported.length > 0) doc.scopes_supported = [...c.scopesSupported];
  if (c.resourceName !== undefined) doc.resource_name = c.resourceName;
  if (c.resourceDocumentation !== undefined) doc.resource_documentation = c.resourceDocumentation;
  if (c.dpop !== 'off') doc.dpop_signing_alg_values_supported = [...c.dpopAlgorithms];
  if (c.dpop === 'required') doc.dpop_bound_access_tokens_required = true;
  return doc;
}
