/**
 * RFC 9728 §2: `authorization_servers` is a list of "OAuth authorization server issuer
 * identifiers, as defined in [RFC8414]"; RFC 8414 §2: the issuer is "a URL that uses the "https"
 * scheme and has no query or fragment components". A query in `issuer` or `authorizationServers`
 * is refused at construction (it was accepted and published in the metadata, where a client derives
 * the RFC 8414 metadata URL from it).
 */
import { ConfigError, mcpAuth } from '../lib/index.js';

const RESOURCE = 'https://mcp.example.com/mcp';

test.each([
  ['issuer', { issuer: 'https://auth.example.com/?tenant=a' }],
  ['authorizationServers', { issuer: 'https://auth.example.com', authorizationServers: ['https://auth.example.com/?tenant=a'] }],
  ['issuer (an empty query)', { issuer: 'https://auth.example.com/?' }],
])('a query in %s is refused at construction, never published as an issuer identifier', (_label, opts) => {
  expect(() => mcpAuth({ resource: RESOURCE, jwksUri: 'https://auth.example.com/jwks', ...opts })).toThrow(ConfigError);
});
