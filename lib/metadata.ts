/**
 * RFC 9728 protected resource metadata document.
 *
 * `resource` is exactly the configured string (clients compare it as a string; nothing is added
 * or removed), `authorization_servers` is never empty, `bearer_methods_supported` is `["header"]`.
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
  return doc;
}
