import { assertTokenGrammar, bearerCredential, checkToken, extractBearer, type BearerInput } from '../lib/bearer.js';
import { McpAuthError } from '../lib/errors.js';

const input = (authorization: string[], over: Partial<BearerInput> = {}): BearerInput => ({ authorization, tokenInQuery: false, tokenInBody: false, ...over });

function failure(fn: () => unknown): { status: number; reason: string; bearerError: string | undefined } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(McpAuthError);
    const e = err as McpAuthError;
    return { status: e.status, reason: e.reason, bearerError: e.bearerError };
  }
  throw new Error('expected a failure');
}

describe('extractBearer (RFC 6750 §2.1)', () => {
  test.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['Bearer   abc', 'abc'],
    ['Bearer a-b_c.d~e+f/g==', 'a-b_c.d~e+f/g=='],
    ['  Bearer abc  ', 'abc'],
    ['bEaReR abc', 'abc'],
  ])('%j → %j', (header, token) => {
    expect(extractBearer(input([header]), 8192)).toBe(token);
  });

  test('no credentials: 401 without error code', () => {
    expect(failure(() => extractBearer(input([]), 8192))).toEqual({ status: 401, reason: 'missing_token', bearerError: undefined });
    expect(failure(() => extractBearer(input(['']), 8192))).toEqual({ status: 401, reason: 'missing_token', bearerError: undefined });
    expect(failure(() => extractBearer(input(['Basic dXNlcjpwYXNz']), 8192)).reason).toBe('missing_token');
    expect(failure(() => extractBearer(input(['DPoP abc']), 8192)).reason).toBe('missing_token');
  });

  test.each(['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a,b', 'Bearer "a"', 'Bearer a=b', 'Bearer =', 'Bearer\tabc', 'Bearer abc;', '"Bearer" abc', ',Bearer abc', 'Bearer é'])('malformed %j: 400 invalid_request', (header) => {
    expect(failure(() => extractBearer(input([header]), 8192))).toMatchObject({ status: 400, reason: 'malformed_header', bearerError: 'invalid_request' });
  });

  test('another token68-shaped scheme is no bearer credential (401 without error code)', () => {
    for (const h of ['Bearerabc', 'Bearers abc', 'Beare abc', 'B abc']) expect(failure(() => extractBearer(input([h]), 8192)).reason).toBe('missing_token');
  });

  test('bearerCredential checks all but the grammar; assertTokenGrammar checks the grammar (protect() runs it on a cache miss)', () => {
    for (const [header, token] of [['Bearer a,b', 'a,b'], ['Bearer  é', 'é'], ['bearer "a"', '"a"']] as const) {
      expect(bearerCredential(input([header]), 8192)).toBe(token);
      expect(failure(() => assertTokenGrammar(token))).toMatchObject({ status: 400, reason: 'malformed_header', bearerError: 'invalid_request' });
      expect(failure(() => extractBearer(input([header]), 8192))).toMatchObject({ status: 400, reason: 'malformed_header' });
    }
    expect(failure(() => bearerCredential(input([`Bearer ${'!'.repeat(101)}`]), 100)).reason).toBe('token_too_large');
  });

  test('two Authorization headers: 400 multiple_tokens, even when identical', () => {
    expect(failure(() => extractBearer(input(['Bearer a', 'Bearer a']), 8192))).toMatchObject({ status: 400, reason: 'multiple_tokens' });
  });

  test('token in the query string or the form body: 400, with or without a header', () => {
    expect(failure(() => extractBearer(input([], { tokenInQuery: true }), 8192))).toMatchObject({ status: 400, reason: 'token_in_query' });
    expect(failure(() => extractBearer(input(['Bearer a'], { tokenInQuery: true }), 8192))).toMatchObject({ status: 400, reason: 'token_in_query' });
    expect(failure(() => extractBearer(input([], { tokenInBody: true }), 8192))).toMatchObject({ status: 400, reason: 'token_in_body' });
  });

  test('the size cap: at the cap accepted, one over refused with 401 before any grammar check', () => {
    expect(extractBearer(input([`Bearer ${'a'.repeat(100)}`]), 100)).toHaveLength(100);
    expect(failure(() => extractBearer(input([`Bearer ${'a'.repeat(101)}`]), 100))).toMatchObject({ status: 401, reason: 'token_too_large', bearerError: 'invalid_token' });
    expect(failure(() => extractBearer(input([`Bearer ${' !'.repeat(100)}`]), 100)).reason).toBe('token_too_large');
  });

  test('linear time on hostile inputs (1 MiB headers)', () => {
    // A bound, not a timing: a backtracking expression on 1 MiB takes minutes; a linear scan, a few
    // milliseconds. 1 s leaves room for a loaded CI machine (100 ms was once exceeded at 124 ms).
    const big = 1 << 20;
    const inputs = [`Bearer${' '.repeat(big)}x`, `Bearer ${'a'.repeat(big)}!`, `Bearer ${'='.repeat(big)}`, `${' '.repeat(big)}`, `Bearer ${'a'.repeat(1000)}${'='.repeat(big)}a`, `X${'!'.repeat(big)}`];
    for (const h of inputs) {
      const started = performance.now();
      try { extractBearer(input([h]), big * 2); } catch { /* refused */ }
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });
});

describe('checkToken (guard.verify)', () => {
  test('accepts the b64token grammar; refuses everything else with 401 invalid_token', () => {
    expect(checkToken('abc.def.ghi', 100)).toBe('abc.def.ghi');
    for (const bad of ['', 'a b', 'a\n', 'é', '=a', 5, null, undefined, {}]) {
      expect(failure(() => checkToken(bad, 100))).toMatchObject({ status: 401, reason: 'malformed_token', bearerError: 'invalid_token' });
    }
    expect(failure(() => checkToken('a'.repeat(101), 100))).toMatchObject({ status: 401, reason: 'token_too_large' });
  });
});
