/**
 * The list filter drops the incomplete SSE event a stream ends in the middle of (a client never
 * dispatches it, and it could be an unfiltered list answer), but keeps its complete `retry` lines:
 * a client applies a `retry` field as soon as it reads it, dispatch or not (the MCP SDK client's
 * reconnection delay). Here a server ends a resumed GET stream (`Last-Event-ID`, so the filter is
 * installed under a tool policy) with `retry: 5000\n` and the start of a `data` line, and no empty
 * line after them: the client gets the retry line, as the control without the filter does, and not
 * the rest of the event, which the control gets.
 *
 * Real HTTP on 127.0.0.1; injected clock; no sleeps.
 */
import { activeAnswer, opaqueToken } from '../helpers/opaque.js';
import { push } from '../helpers/sse-client.js';
import { recheckSuite } from '../helpers/recheck-suite.js';

const suite = recheckSuite({ options: { toolScopes: { 'notes_*': ['notes:read'], 'admin_*': ['admin'] } } });
const { clock } = suite;
beforeAll(() => { suite.as.introspect = () => ({ body: activeAnswer(suite.as, clock.seconds(), { exp: clock.seconds() + 7200 }) }); });

async function endWithRetry(headers: Record<string, string>): Promise<string> {
  const { s, res } = await suite.open(opaqueToken(), headers);
  await push(s, res, 'hello');
  // The server closes the stream, telling the client when to come back, in the middle of an event
  // (no empty line after it).
  res.end('retry: 5000\ndata: {"partial"\n');
  await s.ended;
  return s.text();
}

test('control: without the filter, the client gets the retry field', async () => {
  const text = await endWithRetry({});
  expect(text).toContain('data: hello');
  expect(text).toContain('retry: 5000');
  expect(text).toContain('partial');
});

test('on a resumed (filtered) stream, a trailing retry field a conforming client applies is not dropped', async () => {
  const text = await endWithRetry({ 'Last-Event-ID': 'e1' });
  expect(text).toContain('data: hello');
  expect(text).toContain('retry: 5000');
  // (The filter is there: the rest of the unfinished event is dropped.)
  expect(text).not.toContain('partial');
});
