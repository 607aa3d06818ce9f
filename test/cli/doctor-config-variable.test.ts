/**
 * README, `doctor` table: "`config` | the options validate as `mcpAuth()` validates them; the fix
 * names the variable to set". For a clockTolerance problem (MCP_AUTH_CLOCK_TOLERANCE_SECONDS above
 * the 600 s maximum, which fromEnv() accepts and mcpAuth() refuses), the fix names no variable: the
 * option name `clockTolerance` does not map to MCP_AUTH_CLOCK_TOLERANCE_SECONDS.
 */
import { runDoctor } from '../../lib/cli/doctor.js';

const BASE = { MCP_AUTH_RESOURCE: 'https://mcp.example.com/mcp', MCP_AUTH_ISSUER: 'https://as.example.com' };

test('control: a bad MCP_AUTH_NEGATIVE_CACHE_SECONDS is named in the fix', async () => {
  const report = await runDoctor({ ...BASE, MCP_AUTH_NEGATIVE_CACHE_SECONDS: '60' });
  const config = report.checks.find((c) => c.id === 'config');
  expect(config).toMatchObject({ status: 'fail' });
  expect(config?.fix).toContain('MCP_AUTH_NEGATIVE_CACHE_SECONDS');
});

test('a bad MCP_AUTH_CLOCK_TOLERANCE_SECONDS is named in the fix', async () => {
  const report = await runDoctor({ ...BASE, MCP_AUTH_CLOCK_TOLERANCE_SECONDS: '700' });
  const config = report.checks.find((c) => c.id === 'config');
  expect(config).toMatchObject({ status: 'fail' });
  expect(config?.fix).toContain('MCP_AUTH_CLOCK_TOLERANCE_SECONDS');
});
