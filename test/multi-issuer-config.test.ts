/**
 * Several issuers are for JWTs with discovered keys only: introspection settings beside them are a
 * ConfigError even with tokenFormat 'jwt' given (an opaque token does not say which server to ask,
 * and a client secret the guard never uses should not be kept), from options and from the environment.
 */
import { fromEnv } from '../lib/index.js';
import { configProblems as problems } from './helpers/config.js';

const base = { resource: 'https://mcp.example.com/mcp', issuer: ['https://a.example', 'https://b.example'] } as const;
const SEVERAL_WITH_INTROSPECTION = [expect.stringMatching(/^introspection cannot be set with several issuers/)];

test('several issuers with introspection (tokenFormat "jwt" given) is a ConfigError', () => {
  expect(problems({ ...base, tokenFormat: 'jwt', introspection: { clientId: 'c', clientSecret: 's' } })).toEqual(SEVERAL_WITH_INTROSPECTION);
});

test('the same from the environment', () => {
  const options = fromEnv({
    MCP_AUTH_RESOURCE: base.resource,
    MCP_AUTH_ISSUER: base.issuer.join(' '),
    MCP_AUTH_TOKEN_FORMAT: 'jwt',
    MCP_AUTH_CLIENT_ID: 'c',
    MCP_AUTH_CLIENT_SECRET: 's',
  });
  expect(problems(options)).toEqual(SEVERAL_WITH_INTROSPECTION);
});
