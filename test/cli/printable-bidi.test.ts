/**
 * `check` prints claims of a refused token decoded without verification, i.e. text the token's
 * sender chose, and `doctor` prints values the authorization server chose. Besides C0, DEL and C1,
 * printable() escapes the Unicode line and paragraph separators (U+2028, U+2029) and the
 * bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069: "Trojan Source",
 * CVE-2021-42574), so `subject admin<U+202E>gnp.exe` cannot show as `adminexe.png`.
 */
import { formatCheck, runCheck } from '../../lib/cli/check.js';
import { printable } from '../../lib/cli/printable.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const SPOOF = /[\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

test('check: bidi overrides and line separators in claims are escaped in the text report', async () => {
  const token = `${b64({ alg: 'RS256', kid: 'k' })}.${b64({
    iss: 'https://auth.example.com\u2028PASS forged line',
    sub: 'admin\u202egnp.exe',
    aud: 'https://mcp.example.com/\u2066mcp\u2069',
    scope: 'notes:read\u2029notes:write',
    exp: 2_000_000_000,
  })}.${'A'.repeat(43)}`;
  // Port 1 on loopback refuses at once: the token is refused (503), its claims shown unverified.
  const report = await runCheck(token, { env: { MCP_AUTH_RESOURCE: 'http://127.0.0.1:3000/mcp', MCP_AUTH_ISSUER: 'http://127.0.0.1:1', MCP_AUTH_HTTP_TIMEOUT_SECONDS: '1' } });
  expect(report.claims?.verified).toBe(false);
  const text = formatCheck(report);
  expect(text).toContain('subject');
  expect(text).not.toMatch(SPOOF);
});

test('printable() escapes U+2028, U+2029 and the bidi controls', () => {
  for (const c of ['\u061c', '\u200e', '\u200f', '\u2028', '\u2029', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069']) {
    expect(printable(`a${c}b`)).toBe(`a\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}b`);
  }
  // Ordinary text outside ASCII is left alone.
  expect(printable('Zürich – 東京 😀')).toBe('Zürich – 東京 😀');
});
