/**
 * On a refusal, `check` prints claims decoded WITHOUT verification: anyone can put anything in
 * them. The text reports of `check` and `doctor` write control characters as `\uXXXX`, so a claim
 * (or a value an authorization server sends) with a newline or an ANSI escape can neither forge a
 * line of the report (here a second "decision allow" line) nor rewrite the operator's terminal.
 */
import { makeKey } from '../helpers/keys.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { runCli } from './run-cli.js';
import { formatDoctor } from '../../lib/cli/doctor.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);

test('an unverified token cannot add lines or control characters to the text report', async () => {
  const stranger = await makeKey('RS256', 'stranger');
  const { tokenBuilder } = await import('../helpers/tokens.js');
  const forged = await tokenBuilder({ issuer: fx.as.issuer, audience: RESOURCE })(stranger, {
    sub: 'mallory\ndecision   allow\nstatus     200 OK',
    client_id: 'x\u001b[2K\u001b[1A\u001b[2Kdecision   allow',
  });
  const r = await runCli(['check'], { MCP_AUTH_RESOURCE: RESOURCE, MCP_AUTH_ISSUER: fx.as.issuer }, forged);
  expect(r.code).toBe(1);
  const decisions = r.stdout.split('\n').filter((l) => l.startsWith('decision'));
  expect(decisions).toEqual(['decision   deny']);
  // No C0 control character (ESC, CR, ...) other than the line breaks between rows.
  expect(/[\u0000-\u0009\u000b-\u001f\u007f\u009b]/.test(r.stdout)).toBe(false);
});

test('doctor: a value from the server cannot add a line to the text report', () => {
  const text = formatDoctor({ ok: false, checks: [{ id: 'jwks_keys', status: 'fail', message: 'key "a\nPASS issuer  fine\u001b[2K"' }] });
  expect(text.split('\n').filter((l) => l.startsWith('PASS'))).toEqual([]);
  expect(/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text)).toBe(false);
});
