/**
 * A long-lived stream opened with an introspected token relies on its introspection answer as
 * long as a request would, `cacheMaxAgeSeconds`: the first write after that asks again (the cache,
 * or one introspection, coalesced across streams), holds that write and every later one until the
 * answer, then sends them in order, or drops them and ends the stream when the token was revoked
 * (`token_revoked`), now grants something else (`token_changed`), or the authorization server
 * could not be asked (`recheck_failed`). A good answer's `exp` is the stream's new end. Real HTTP to
 * a loopback introspection endpoint the test controls; an injected clock.
 */
import type { IntrospectionAnswer } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueToken } from '../helpers/opaque.js';
import { recheckSuite, wireSpy } from '../helpers/recheck-suite.js';
import { push } from '../helpers/sse-client.js';

const MAX_AGE_S = 60;
/** Older than cacheMaxAgeSeconds (at exactly that age the cache still holds an answer, and a stream relies on it). */
const AGED_MS = MAX_AGE_S * 1000 + 1;
/** What reached the response beneath the guard's hooks (a spy mounted before protect()), per stream. */
const spy = wireSpy();
const suite = recheckSuite({ options: { cacheMaxAgeSeconds: MAX_AGE_S }, before: [spy.handler] });
const { clock, events } = suite;
let as: typeof suite.as;

/** Token → the answer the authorization server gives for it now (default: inactive). */
let answers: Map<string, () => IntrospectionAnswer | Promise<IntrospectionAnswer>>;
beforeEach(() => {
  as = suite.as;
  events.length = 0;
  as.resetCounts();
  as.faults.introspection = 'ok';
  answers = new Map();
  as.introspect = (req) => answers.get(req.token ?? '')?.() ?? { body: { active: false } };
});

const active = (claims: Record<string, unknown> = {}) => () => ({ body: activeAnswer(as, clock.seconds(), claims) });

const openFor = (token: string) => suite.open(token);
const ended = () => suite.streamEnded();

test('within cacheMaxAgeSeconds a stream asks nothing again; after it, a token the authorization server still vouches for goes on, asked about once per answer', async () => {
  const token = opaqueToken();
  answers.set(token, active());
  const { s, res } = await openFor(token);
  await push(s, res, 'one');
  clock.advance(MAX_AGE_S * 1000);
  await push(s, res, 'two');
  expect(as.counts.introspection).toBe(1);
  clock.advance(1);
  await push(s, res, 'three');
  expect(as.counts.introspection).toBe(2);
  await push(s, res, 'four');
  clock.advance(MAX_AGE_S * 1000);
  await push(s, res, 'five');
  expect(as.counts.introspection).toBe(2);
  clock.advance(1);
  await push(s, res, 'six');
  expect(as.counts.introspection).toBe(3);
  expect(s.text().match(/data: \w+/g)).toEqual(['one', 'two', 'three', 'four', 'five', 'six'].map((d) => `data: ${d}`));
  expect(ended()).toEqual([]);
  res.end();
  await s.ended;
});

test.each([
  ['revoked: the answer is now inactive', () => ({ body: { active: false } }), 'token_revoked'],
  ['its scopes changed', () => ({ body: activeAnswer(as, clock.seconds(), { scope: 'mcp' }) }), 'token_changed'],
  ['it now names another user', () => ({ body: activeAnswer(as, clock.seconds(), { sub: 'user-2' }) }), 'token_changed'],
  ['it is now bound to a key', () => ({ body: activeAnswer(as, clock.seconds(), { cnf: { jkt: 'A'.repeat(43) } }) }), 'token_revoked'],
] as const)('a stream whose token is, when asked again, %s ends at that write, without it', async (_label, later, reason) => {
  const token = opaqueToken();
  answers.set(token, active());
  const { s, res } = await openFor(token);
  await push(s, res, 'before');
  answers.set(token, later);
  clock.advance(AGED_MS);
  await push(s, res, 'after');
  await s.ended;
  expect(s.text()).toContain('data: before');
  expect(s.text()).not.toContain('after');
  expect(spy.sent(res).join('')).not.toContain('after');
  expect(as.counts.introspection).toBe(2);
  expect(ended()).toEqual([{ type: 'stream_ended', reason, issuer: as.issuer, clientId: 'client-1' }]);
  // The server keeps writing: dropped, no error.
  expect(res.write('data: later\n\n')).toBe(true);
});

test('an authorization server that cannot be asked ends the stream (recheck_failed): a request would get 503', async () => {
  const token = opaqueToken();
  answers.set(token, active());
  const { s, res } = await openFor(token);
  as.faults.introspection = '500';
  clock.advance(AGED_MS);
  await push(s, res, 'after');
  await s.ended;
  expect(s.text()).not.toContain('after');
  expect(ended()).toEqual([expect.objectContaining({ type: 'stream_ended', reason: 'recheck_failed' })]);
  // A request with the token, at the same instant, is refused as the authorization server's fault.
  expect(await suite.post(token)).toBe(503);
});

test('writes and the end made while the answer is awaited are held, then sent in order; nothing goes out before it', async () => {
  const token = opaqueToken();
  answers.set(token, active());
  const { s, res } = await openFor(token);
  let answer!: () => void;
  const asked = new Promise<void>((reached) => {
    answers.set(token, () => new Promise((resolve) => {
      reached();
      answer = () => resolve({ body: activeAnswer(as, clock.seconds()) });
    }));
  });
  clock.advance(AGED_MS);
  const before = spy.sent(res).length;
  expect(res.write('data: a\n\n')).toBe(true);
  expect(res.write('data: b\n\n')).toBe(true);
  res.end('data: c\n\n');
  await asked;
  expect(spy.sent(res).length).toBe(before);
  answer();
  await s.ended;
  expect(s.text().match(/data: \w/g)).toEqual(['data: a', 'data: b', 'data: c']);
  expect(ended()).toEqual([]);
});

test('held writes are dropped, their callbacks still run, when the answer ends the stream', async () => {
  const token = opaqueToken();
  answers.set(token, active());
  const { s, res } = await openFor(token);
  answers.set(token, () => Promise.resolve({ body: { active: false } }));
  clock.advance(AGED_MS);
  const done: string[] = [];
  res.write('data: a\n\n', () => done.push('a'));
  res.write('data: b\n\n', () => done.push('b'));
  await s.ended;
  await new Promise<void>((r) => setImmediate(r));
  expect(done).toEqual(['a', 'b']);
  expect(s.text()).not.toContain('data: a');
  expect(ended()).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);
});

test('a cache entry the client\'s other requests refreshed answers the stream: no introspection of its own', async () => {
  const token = opaqueToken();
  answers.set(token, active());
  const { s, res } = await openFor(token);
  clock.advance(AGED_MS);
  expect(await suite.post(token)).toBe(200);
  expect(as.counts.introspection).toBe(2);
  await push(s, res, 'after');
  expect(s.text()).toContain('data: after');
  expect(as.counts.introspection).toBe(2);
  res.end();
  await s.ended;
});

test('streams of one token asking again at once share one introspection', async () => {
  const token = opaqueToken();
  answers.set(token, active());
  const streams = [await openFor(token), await openFor(token), await openFor(token)];
  expect(as.counts.introspection).toBe(1);
  clock.advance(AGED_MS);
  for (const { res } of streams) res.write('data: x\n\n');
  for (const { s, res } of streams) {
    await push(s, res, 'y');
    expect(s.text()).toContain('data: x');
  }
  expect(as.counts.introspection).toBe(2);
  for (const { s, res } of streams) { res.end(); await s.ended; }
});

test('the new answer\'s exp is the stream\'s new end: later than the first answer\'s, and earlier', async () => {
  const token = opaqueToken();
  answers.set(token, active({ exp: clock.seconds() + 90 }));
  const { s, res } = await openFor(token);
  answers.set(token, active({ exp: clock.seconds() + 600 }));
  clock.advance(AGED_MS);
  await push(s, res, 'asked');
  // Past the first answer's exp (+ the 5 s clockTolerance): the second answer's rules.
  clock.advance(40_000);
  await push(s, res, 'extended');
  expect(s.text()).toContain('data: extended');
  // The third answer shortens it.
  clock.advance(AGED_MS - 40_000);
  answers.set(token, active({ exp: clock.seconds() + 10 }));
  await push(s, res, 'asked-again');
  expect(as.counts.introspection).toBe(3);
  clock.advance(16_000);
  await push(s, res, 'past-new-exp');
  await s.ended;
  expect(s.text()).toContain('data: asked-again');
  expect(s.text()).not.toContain('past-new-exp');
  expect(ended()).toEqual([expect.objectContaining({ reason: 'token_expired' })]);
});

test('an answer without exp no longer ends its stream at cacheMaxAgeSeconds: the stream goes on while each answer is good', async () => {
  const token = opaqueToken();
  answers.set(token, active({ exp: undefined }));
  const { s, res } = await openFor(token);
  for (let i = 0; i < 3; i++) {
    clock.advance((MAX_AGE_S + 1) * 1000);
    await push(s, res, `round${i}`);
  }
  expect(s.text().match(/data: round\d/g)).toEqual(['data: round0', 'data: round1', 'data: round2']);
  expect(as.counts.introspection).toBe(4);
  res.end();
  await s.ended;
});

test('a write after the client left asks nobody: no introspection for a stream that goes nowhere', async () => {
  const [left, stays] = [opaqueToken(), opaqueToken()];
  answers.set(left, active());
  answers.set(stays, active());
  const gone = await openFor(left);
  const open = await openFor(stays);
  clock.advance(AGED_MS);
  const closed = new Promise<void>((r) => gone.res.on('close', () => r()));
  gone.s.res.destroy();
  await closed;
  gone.res.write('data: nobody\n\n');
  // Control, written after it: the other stream's recheck reaches the authorization server.
  const calls = (token: string) => as.introspectionRequests.filter((r) => r.token === token).length;
  await push(open.s, open.res, 'somebody');
  expect({ left: calls(left), stays: calls(stays) }).toEqual({ left: 1, stays: 2 });
  expect(ended()).toEqual([]);
  open.res.end();
  await open.s.ended;
});
