/**
 * Neither `doctor` nor `check` prints a password written into an MCP_AUTH_* URL, however it is
 * written: configured URLs must be `https://…` (or loopback `http://…`) without an "@" anywhere, so
 * a password hidden behind a missing "//", a backslash, a "#", "?", "/" or a quote is refused before
 * anything prints the value, and the refusal names the variable only.
 */
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { tokenBuilder } from '../helpers/tokens.js';
import { runCli } from './run-cli.js';

const PASSWORD = 'hunter2-S3cr3tP4ss';
const BASE = { MCP_AUTH_RESOURCE: 'http://127.0.0.1:9/mcp', MCP_AUTH_ISSUER: 'http://127.0.0.1:9', MCP_AUTH_HTTP_TIMEOUT_SECONDS: '1' };
const fx = loopbackJwtSuite(BASE.MCP_AUTH_RESOURCE);

const values: [string, string, string][] = [
  ['MCP_AUTH_ISSUER without "//"', 'MCP_AUTH_ISSUER', `http:localhost:1/${PASSWORD}@as.example.com`],
  ['MCP_AUTH_ISSUER with backslashes', 'MCP_AUTH_ISSUER', `http:\\\\localhost:1\\${PASSWORD}@as.example.com`],
  ['MCP_AUTH_ISSUER, a \'"\' in the password', 'MCP_AUTH_ISSUER', `http://localhost:1/x"${PASSWORD}@as.example.com`],
  ['MCP_AUTH_ISSUER, a "/" in the password', 'MCP_AUTH_ISSUER', `http://localhost:1/${PASSWORD}@as.example.com`],
  ['MCP_AUTH_RESOURCE without "//"', 'MCP_AUTH_RESOURCE', `http:127.0.0.1:9/${PASSWORD}@mcp.example.com/mcp`],
  ['MCP_AUTH_RESOURCE, a space in the password', 'MCP_AUTH_RESOURCE', `http://127.0.0.1:9/x ${PASSWORD}@mcp.example.com/mcp`],
  ['MCP_AUTH_JWKS_URI, a "#" in the password', 'MCP_AUTH_JWKS_URI', `http://svc:2024#${PASSWORD}@127.0.0.1:9/jwks`],
];

test.each(values)('doctor, %s: refused (config fails), never printed, text and --json', async (_label, name, value) => {
  for (const args of [['doctor'], ['doctor', '--json']]) {
    const r = await runCli(args, { ...BASE, [name]: value });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/config/);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  }
});

test.each(values)('check, %s: a configuration error (exit 2), never printed', async (_label, name, value) => {
  const token = await tokenBuilder({ issuer: 'https://other.example.com', audience: BASE.MCP_AUTH_RESOURCE })(fx.key);
  const r = await runCli(['check', '--json', token], { ...BASE, MCP_AUTH_JWKS_URI: fx.as.jwksUri, [name]: value });
  expect(r.code).toBe(2);
  expect(r.stdout + r.stderr).not.toContain(PASSWORD);
});
