import { challenge, quote } from '../lib/challenge.js';
import { parseChallenge } from './helpers/challenge.js';

describe('challenge', () => {
  test('no parameters: the bare scheme', () => {
    expect(challenge({})).toBe('Bearer');
    expect(challenge({ scope: [], error_description: '' })).toBe('Bearer');
  });

  test('fixed order, each auth-param once', () => {
    const h = challenge({ resource_metadata: 'https://r.example/.well-known/oauth-protected-resource/mcp', scope: ['a', 'b'], error_description: 'd', error: 'insufficient_scope' });
    expect(h).toBe('Bearer error="insufficient_scope", error_description="d", scope="a b", resource_metadata="https://r.example/.well-known/oauth-protected-resource/mcp"');
    expect(parseChallenge(h).names).toEqual(['error', 'error_description', 'scope', 'resource_metadata']);
  });

  test('an injected parameter stays inside its value; error_description keeps to RFC 6750 §3 (" becomes \', \\ becomes /)', () => {
    const hostile = 'x", error="invalid_request", scope="admin\\';
    const h = challenge({ error: 'invalid_token', error_description: hostile, resource_metadata: 'https://r.example/m' });
    const c = parseChallenge(h);
    expect(c.names).toEqual(['error', 'error_description', 'resource_metadata']);
    expect(c.params.error).toBe('invalid_token');
    expect(c.params.error_description).toBe("x', error='invalid_request', scope='admin/");
    expect(/error_description="([^"]*)"/.exec(h)![1]).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/);
    expect(h.match(/error=/g)).toHaveLength(2); // error= and error_description= only, never a second error
  });

  test('control characters and non-ASCII cannot break the header', () => {
    const h = challenge({ error_description: 'line\r\nSet-Cookie: a=b\u0000é' });
    expect(h).not.toMatch(/[\r\n\u0000]/);
    expect(h).toMatch(/^[\x20-\x7e]+$/);
    expect(parseChallenge(h).params.error_description).toBe('line??Set-Cookie: a=b??');
  });

  test('quote() produces an RFC 9110 quoted-string', () => {
    expect(quote('a"b\\c')).toBe('"a\\"b\\\\c"');
  });
});
