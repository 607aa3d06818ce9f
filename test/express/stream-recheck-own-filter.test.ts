/**
 * When the guard ends a resumed GET stream (its recheck refuses the token), the list filter the
 * same `protect()` installed may hold the unfinished SSE event of a list answer. That event is
 * dropped, not sent unfiltered (an SSE client never dispatches an event the stream ended in the
 * middle of): the client never gets the tool entries its token's scopes do not allow (here
 * `admin_wipe`, hidden from a `notes:read` token). The same two-piece answer is filtered when
 * nothing ends the stream (the control).
 */
import { activeAnswer, opaqueToken } from '../helpers/opaque.js';
import { push } from '../helpers/sse-client.js';
import { recheckSuite } from '../helpers/recheck-suite.js';

const suite = recheckSuite({ options: { toolScopes: { 'notes_*': ['notes:read'], 'admin_*': ['admin'] } } });
const { clock } = suite;

const LIST = 'event: message\ndata: {"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"admin_wipe","inputSchema":{"type":"object"}},{"name":"notes_read","inputSchema":{"type":"object"}}]}}\n';

test('control: a list answer written in two pieces on a resumed stream is filtered (admin_wipe hidden)', async () => {
  suite.as.introspect = () => ({ body: activeAnswer(suite.as, clock.seconds(), { exp: clock.seconds() + 7200 }) });
  const { s, res } = await suite.open(opaqueToken(), { 'Last-Event-ID': 'e1' });
  const arrived = new Promise<void>((r) => s.res.on('data', () => { if (s.text().includes('notes_read')) r(); }));
  res.write(LIST);
  res.write('\n');
  await arrived;
  expect(s.text()).toContain('notes_read');
  expect(s.text()).not.toContain('admin_wipe');
  res.end();
  await s.ended;
});

test('a revoked token ends the resumed stream mid-event: the filter\'s held, unfiltered list entries must not go out', async () => {
  const revoke = suite.answerUntilRevoked();
  const { s, res } = await suite.open(opaqueToken(), { 'Last-Event-ID': 'e1' });
  await push(s, res, 'before');
  // The server writes a list answer, its terminating empty line in a second write.
  res.write(LIST);
  revoke();
  clock.advance(61_000);
  res.write('\n');
  await s.ended;
  expect(suite.streamEnded()).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);
  expect(s.text()).toContain('data: before');
  expect(s.text()).not.toContain('admin_wipe');
  expect(s.text()).not.toContain('notes_read');
});
