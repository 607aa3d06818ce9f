/** Shared setup of the list-filtering edge cases: a loopback AS, a token with notes:read, an app builder. */
import express, { type Express, type RequestHandler } from 'express';
import request from 'supertest';
import { mcpAuth, type GuardEvent, type McpAuthGuard, type Options } from '../../../lib/index.js';
import { makeKey } from '../../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../../helpers/loopback-as.js';
import { tokenBuilder } from '../../helpers/tokens.js';

export const RESOURCE = 'http://127.0.0.1:9/mcp';
export const TOOLS = [
  { name: 'note_get', inputSchema: { type: 'object' } },
  { name: 'delete_note', inputSchema: { type: 'object' } },
];
export const POLICY: Partial<Options> = { toolScopes: { 'note_*': ['notes:read'], delete_note: ['notes:write'] } };

export interface Env { as: LoopbackAS; token: string; guards: McpAuthGuard[] }

export function useEnv(): Env {
  const env = { guards: [] } as unknown as Env;
  beforeAll(async () => {
    env.as = await startLoopbackAS();
    const key = await makeKey('ES256');
    env.as.keys = [key.publicJwk];
    env.token = await tokenBuilder({ issuer: env.as.issuer, audience: RESOURCE })(key, { scope: 'notes:read' });
  });
  afterAll(async () => {
    for (const g of env.guards) await g.close();
    await env.as.close();
  });
  return env;
}

export function listAnswer(id: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, result: { tools: TOOLS } });
}

export function build(env: Env, handler: RequestHandler, events: GuardEvent[] = []): Express {
  const guard = mcpAuth({ resource: RESOURCE, issuer: env.as.issuer, ...POLICY, onEvent: (e) => events.push(e) });
  env.guards.push(guard);
  const app = express();
  app.use(express.json());
  app.post('/mcp', guard.protect(), handler);
  return app;
}

export const list = (env: Env, app: Express, body: unknown = { jsonrpc: '2.0', id: 1, method: 'tools/list' }) =>
  request(app).post('/mcp').set('Authorization', `Bearer ${env.token}`).send(body as object)
    .buffer(true).parse((r, cb) => {
      const parts: Buffer[] = [];
      r.on('data', (c: Buffer) => parts.push(Buffer.from(c)));
      r.on('end', () => cb(null, Buffer.concat(parts)));
    });
