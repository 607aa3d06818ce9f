/**
 * The common suite setup: a loopback authorization server serving one RS256 key, and a token
 * builder for `resource`. Registers `beforeAll`/`afterAll`; guards (or test apps) handed to
 * `track` are closed after the suite, then the server.
 */
import type { McpAuthGuard } from '../../lib/index.js';
import { makeKey, type TestKey } from './keys.js';
import { startLoopbackAS, type LoopbackAS } from './loopback-as.js';
import { tokenBuilder } from './tokens.js';

export interface LoopbackJwtSuite {
  readonly as: LoopbackAS;
  readonly key: TestKey;
  /** A valid token for the resource, signed with `key`; `claims` override the defaults. */
  token(claims?: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  /** Close `item` (a guard, or anything holding one) after the suite; returns it. */
  track<T extends McpAuthGuard | { guard: McpAuthGuard }>(item: T): T;
}

export function loopbackJwtSuite(resource: string): LoopbackJwtSuite {
  const guards: McpAuthGuard[] = [];
  let as: LoopbackAS | undefined;
  let key: TestKey | undefined;
  let sign: ReturnType<typeof tokenBuilder> | undefined;
  beforeAll(async () => {
    as = await startLoopbackAS();
    key = await makeKey('RS256');
    as.keys = [key.publicJwk];
    sign = tokenBuilder({ issuer: as.issuer, audience: resource });
  });
  afterAll(async () => {
    for (const g of guards) await g.close();
    await as?.close();
  });
  return {
    get as() { return as!; },
    get key() { return key!; },
    token: (claims = {}, header = {}) => sign!(key!, claims, header),
    track(item) {
      guards.push('guard' in item ? item.guard : item);
      return item;
    },
  };
}
