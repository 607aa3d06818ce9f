/**
 * A Content-Type with a quoted parameter holding a comma (`application/json; profile="a,b"`) is the
 * type before the first `;` (RFC 9110, as the MCP SDK client reads it): the answer is filtered.
 */
import type { RequestHandler } from 'express';
import type { GuardEvent } from '../../../lib/index.js';
import { build, list, listAnswer, useEnv } from './setup.js';

const env = useEnv();

describe('Content-Type with a quoted parameter holding a comma', () => {
  test.each([
    ['application/json; profile="urn:a,urn:b"', `${listAnswer(1)}`],
    ['text/event-stream; x="a,b"', `event: message\ndata: ${listAnswer(1)}\n\n`],
  ])('%s: the answer is filtered', async (type, body) => {
    const handler: RequestHandler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': type });
      res.end(body);
    };
    const events: GuardEvent[] = [];
    const res = await list(env, build(env, handler, events));
    expect(res.status).toBe(200);
    const text = (res.body as Buffer).toString('utf8');
    expect(text).toContain('note_get');
    expect(text).not.toContain('delete_note');
    expect(events.filter((e) => e.type === 'list_unfiltered')).toEqual([]);
  });
});
