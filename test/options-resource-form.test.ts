/**
 * RFC 9728 §3.3: "The resource value returned MUST be identical to the protected resource's
 * resource identifier value into which the well-known URI path suffix was inserted to create the
 * URL used to retrieve the metadata." The guard builds `resource_metadata` (401 challenge) from the
 * WHATWG-normalized resource (host lower-cased, default port dropped, IDN to punycode, path
 * percent-encoded), so a `resource` not written in that form is refused at construction (it was
 * published verbatim, disagreeing with the metadata URL; with a space or a non-ASCII host not even
 * a URI). The root path's "/" may be left out.
 */
import { ConfigError, mcpAuth } from '../lib/index.js';

test.each([
  ['a default port', 'https://mcp.example.com:443/mcp'],
  ['an upper-case host', 'https://MCP.Example.com/mcp'],
  ['an IDN host', 'https://bücher.example/mcp'],
  ['a space in the path', 'https://mcp.example.com/a b/mcp'],
])('a resource with %s (%s) is refused at construction', (_label, resource) => {
  expect(() => mcpAuth({ resource, issuer: 'https://auth.example.com', jwksUri: 'https://auth.example.com/jwks' })).toThrow(ConfigError);
});

test.each([
  ['no path, no slash', 'https://mcp.example.com'],
  ['no path, a slash', 'https://mcp.example.com/'],
  ['a path', 'https://mcp.example.com/mcp'],
  ['a loopback port', 'http://127.0.0.1:3000/mcp'],
  ['a percent-encoded path', 'https://mcp.example.com/a%20b/mcp'],
])('a resource in its normalized form is accepted (%s: %s)', async (_label, resource) => {
  const guard = mcpAuth({ resource, issuer: 'https://auth.example.com', jwksUri: 'https://auth.example.com/jwks' });
  expect(guard.config.resource).toBe(resource);
  await guard.close();
});
