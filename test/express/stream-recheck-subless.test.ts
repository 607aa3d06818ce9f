/**
 * A stream's token asked about again ends (`token_changed`) when the answer names another client,
 * with or without `sub`: without one (RFC 7662 makes it optional; client-credentials tokens have
 * none) the identity is the token itself, so issuer, subject and client are compared as well.
 */
import { activeAnswer, opaqueToken } from '../helpers/opaque.js';
import { push } from '../helpers/sse-client.js';
import { recheckSuite } from '../helpers/recheck-suite.js';

const MAX_AGE_S = 60;
const suite = recheckSuite({ options: { cacheMaxAgeSeconds: MAX_AGE_S } });
const { clock, events } = suite;
beforeEach(() => { events.length = 0; });

test.each([
  ['with sub (control)', 'user-1'],
  ['without sub', undefined],
])('an answer naming another client ends the stream (token_changed), %s', async (_label, sub) => {
  const token = opaqueToken();
  let clientId = 'client-1';
  suite.as.introspect = () => ({ body: activeAnswer(suite.as, clock.seconds(), { sub, client_id: clientId }) });
  const { s, res } = await suite.open(token);
  await push(s, res, 'before');

  // The authorization server now attributes the token to another client.
  clientId = 'client-2';
  clock.advance(MAX_AGE_S * 1000 + 1);
  await push(s, res, 'after');
  const ended = suite.streamEnded();
  const delivered = s.text().includes('data: after');
  if (!res.writableEnded) res.end();
  await s.ended;

  expect({ delivered, ended }).toEqual({ delivered: false, ended: [expect.objectContaining({ reason: 'token_changed' })] });
});
