/**
 * `doctor` never prints a password given in MCP_AUTH_RESOURCE, whichever other problem the URL has
 * (plain http off loopback, a fragment, a query): the credentials are reported first, without them.
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
