/** An Express app with the guard in front of a handler that counts its calls. */
import express, { type Express, type RequestHandler } from 'express';
import { mcpAuth, type McpAuthGuard, type Options, type ProtectOptions } from '../../lib/index.js';

export interface TestApp {
  app: Express;
  guard: McpAuthGuard;
  /** How many times the protected handler ran. */
  calls: () => number;
  lastAuth: () => unknown;
}

export function buildApp(options: Options, { json = true, protect, extra }: { json?: boolean; protect?: ProtectOptions; extra?: (app: Express, guard: McpAuthGuard, handler: RequestHandler) => void } = {}): TestApp {
  const guard = mcpAuth(options);
  const app = express();
  let calls = 0;
  let lastAuth: unknown;
  if (json) app.use(express.json());
  app.use(guard.metadata());
  const handler: RequestHandler = (req, res) => {
    calls++;
    lastAuth = req.auth;
    const body = req.body as { id?: unknown } | undefined;
    res.json({ jsonrpc: '2.0', id: body?.id ?? null, result: { ok: true } });
  };
  app.post('/mcp', guard.protect(protect), handler);
  app.get('/mcp', guard.protect(protect), handler);
  extra?.(app, guard, handler);
  return { app, guard, calls: () => calls, lastAuth: () => lastAuth };
}
