/**
 * `doctor` never prints a password given in MCP_AUTH_RESOURCE, whichever other problem the URL has
 * (plain http off loopback, a fragment, a query): the credentials are reported first, without them;
 * a value with an "@" is not printed, and anything before an "@" in any URL it prints is masked.
 */
import { runCli } from './run-cli.js';

const PASSWORD = 'hunter2-S3cr3tP4ss';

test.each([
  ['plain http off loopback', `http://svc:${PASSWORD}@mcp.example.com/mcp`],
  ['with a fragment', `https://svc:${PASSWORD}@mcp.example.com/mcp#x`],
  ['with a query', `https://svc:${PASSWORD}@mcp.example.com/mcp?a=1`],
])('resource %s and credentials: the doctor fails without printing the password', async (_label: string, resource: string) => {
  const r = await runCli(['doctor'], { MCP_AUTH_RESOURCE: resource, MCP_AUTH_ISSUER: 'http://127.0.0.1:9' });
  expect(r.code).toBe(1);
  expect(r.stdout + r.stderr).not.toContain(PASSWORD);
});

test.each([
  // A "#", "?" or "/" in a password makes the value parse without credentials (the rest becomes a fragment, a query, a path).
  ['MCP_AUTH_RESOURCE, a "#" in the password', 'MCP_AUTH_RESOURCE', `https://svc:2024#${PASSWORD}@mcp.example.com/mcp`],
  ['MCP_AUTH_RESOURCE, a "?" in the password', 'MCP_AUTH_RESOURCE', `https://svc:2024?${PASSWORD}@mcp.example.com/mcp`],
  ['MCP_AUTH_ISSUER, a "/" in the password (a loopback host: nothing leaves the machine)', 'MCP_AUTH_ISSUER', `http://localhost:1/${PASSWORD}@as.example.com`],
])('%s: the doctor does not print it', async (_label: string, name: string, value: string) => {
  const r = await runCli(['doctor'], { MCP_AUTH_RESOURCE: 'http://127.0.0.1:9/mcp', MCP_AUTH_ISSUER: 'http://127.0.0.1:9', MCP_AUTH_HTTP_TIMEOUT_SECONDS: '1', [name]: value });
  expect(r.stdout + r.stderr).not.toContain(PASSWORD);
});
