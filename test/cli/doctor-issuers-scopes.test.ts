/**
 * With several trusted issuers, `doctor` compares the scopes the guard requires with every
 * issuer's `scopes_supported`, not only the first's: a client may get its token from any of them,
 * and one that cannot obtain a required scope there is refused every time. Each `scopes` line names
 * its issuer. Two loopback authorization servers; the CLI spawned as a child process.
 */
import { makeKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { runCli } from './run-cli.js';

let first: LoopbackAS;
let second: LoopbackAS;

beforeAll(async () => {
  const key = await makeKey('RS256');
  first = await startLoopbackAS();
  second = await startLoopbackAS();
  for (const as of [first, second]) as.keys = [key.publicJwk];
});
afterAll(async () => {
  await first.close();
  await second.close();
});

async function scopeLines(): Promise<{ status: string; message: string }[]> {
  const { stdout } = await runCli(['doctor', '--json'], {
    MCP_AUTH_RESOURCE: 'http://127.0.0.1:9/mcp',
    MCP_AUTH_ISSUER: `${first.issuer},${second.issuer}`,
    MCP_AUTH_REQUIRED_SCOPES: 'mcp',
    MCP_AUTH_HTTP_TIMEOUT_SECONDS: '3',
  });
  const report = JSON.parse(stdout) as { checks: { id: string; status: string; message: string }[] };
  return report.checks.filter((c) => c.id === 'scopes');
}

test('a required scope the second issuer does not list is a warning naming that issuer', async () => {
  first.metadata = { scopes_supported: ['mcp'] };
  second.metadata = { scopes_supported: ['other'] };
  const lines = await scopeLines();
  expect(lines.map((l) => l.status)).toEqual(['pass', 'warn']);
  expect(lines[0]!.message).toContain(`(issuer ${first.issuer})`);
  expect(lines[1]!.message).toContain(`(issuer ${second.issuer})`);
  expect(lines[1]!.message).toContain('mcp');
});

test('every issuer listing the scope passes, each on its own line', async () => {
  first.metadata = { scopes_supported: ['mcp'] };
  second.metadata = { scopes_supported: ['mcp', 'other'] };
  expect((await scopeLines()).map((l) => l.status)).toEqual(['pass', 'pass']);
});
