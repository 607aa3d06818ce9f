/**
 * When the guard ends a stream, nothing a hook mounted after `protect()` still held reaches the
 * client: here a second guard's list filter on a resumed GET (`A.protect(), B.protect()`, B with
 * `toolScopes`) holds an unfinished SSE event and flushes it into A's `end(data)` when A's recheck
 * refuses the token. A ends the response without that data: nothing of `SECRET` goes out.
 */
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { activeAnswer, opaqueOptions, opaqueToken } from '../helpers/opaque.js';
import { recheckSuite, wireSpy } from '../helpers/recheck-suite.js';
import { push } from '../helpers/sse-client.js';

/** What reached the response beneath every hook (a spy mounted before both guards). */
const spy = wireSpy();
let guardB: McpAuthGuard | undefined;
// A (the suite's guard) then B: another guard of the same server, with a tool policy; its answer is trusted for an hour.
const suite = recheckSuite({
  before: [spy.handler],
  after: (as, clock) => {
    guardB = mcpAuth(opaqueOptions(as, { clock, cacheMaxAgeSeconds: 3600, toolScopes: { 'notes_*': ['notes:read'], 'admin_*': ['admin'] } }));
    return [guardB.protect()];
  },
});
const { clock } = suite;
afterAll(async () => { await guardB?.close(); });

test('a stream whose token is found revoked: nothing written after the revocation reaches the wire, through a later list filter either', async () => {
  const token = opaqueToken();
  const revoke = suite.answerUntilRevoked();
  // A resumed stream (Last-Event-ID): B filters list answers on it by their shape.
  const { s, res } = await suite.open(token, { 'Last-Event-ID': 'e1' });
  await push(s, res, 'before');

  revoke();
  clock.advance(61_000);
  // After the revocation: an event, then the start of the next one (B holds the unfinished one).
  res.write('event: message\ndata: {"n":1}\n\nevent: message\ndata: SECRET');
  await s.ended;
  expect(suite.streamEnded()).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);
  expect(s.text()).toContain('data: before');
  expect(spy.sent(res).join('')).not.toContain('SECRET');
  expect(s.text()).not.toContain('SECRET');
  // The complete event written after the revocation did not go out either.
  expect(spy.sent(res).join('')).not.toContain('{"n":1}');
  expect(s.text()).not.toContain('{"n":1}');
});

test('control: without a revocation the same write shows B holding the unfinished event (it goes out when it is complete)', async () => {
  const token = opaqueToken();
  suite.as.introspect = () => ({ body: activeAnswer(suite.as, clock.seconds(), { exp: clock.seconds() + 7200 }) });
  const { s, res } = await suite.open(token, { 'Last-Event-ID': 'e1' });
  await push(s, res, 'before');
  res.write('event: message\ndata: {"n":1}\n\nevent: message\ndata: SECRET');
  await new Promise<void>((r) => { const check = () => { if (s.text().includes('{"n":1}')) r(); }; s.res.on('data', check); check(); });
  expect(s.text()).not.toContain('SECRET');
  expect(spy.sent(res).join('')).not.toContain('SECRET');
  res.end('\n\n');
  await s.ended;
  expect(s.text()).toContain('data: SECRET');
});
