/**
 * A protected MCP server: a tiny notes service on `@modelcontextprotocol/sdk`'s `McpServer`,
 * behind mcp-oauth-guard configured purely from `MCP_AUTH_*` variables through `fromEnv()`.
 *
 * Tools and the scopes they need (enforced by the guard from MCP_AUTH_TOOL_SCOPES, which also
 * filters `tools/list` to what the token may call):
 *   list_notes → notes:read      add_note, delete_note → notes:write
 *
 * Transport: a stateless `StreamableHTTPServerTransport` per request (no sessions: every request
 * carries its token and is checked). The guard puts the verified token on `req.auth`; the SDK hands
 * it to tool handlers as `extra.authInfo`.
 *
 * Run alone (after the authorization server):
 *   MCP_AUTH_ISSUER=http://127.0.0.1:4000 npx tsx examples/mcp-server.ts
 * Port from MCP_PORT (default 3000); MCP_AUTH_RESOURCE defaults to http://127.0.0.1:<port>/mcp.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { fromEnv, mcpAuth, type McpAuthGuard, type Options } from '../lib/index.js';

/** The demo's guard settings, as environment variables (the caller's variables win). */
export const DEMO_ENV: Readonly<Record<string, string>> = Object.freeze({
  // Every request needs notes:read: the 401 challenge asks for just that (least privilege).
  MCP_AUTH_REQUIRED_SCOPES: 'notes:read',
  MCP_AUTH_TOOL_SCOPES: 'list_notes=notes:read;add_note=notes:write;delete_note=notes:write',
  MCP_AUTH_RESOURCE_NAME: 'Demo notes (mcp-oauth-guard)',
});

/** Options of {@link startMcpServer}. */
export interface McpServerOptions {
  /** `MCP_AUTH_*` variables (MCP_AUTH_ISSUER at least). MCP_AUTH_RESOURCE defaults to `http://127.0.0.1:<port>/mcp`. */
  env: Readonly<Record<string, string | undefined>>;
  /** Port on 127.0.0.1. Default 0 (any free port). */
  port?: number;
}

/** A running MCP server. */
export interface DemoMcpServer {
  /** The MCP endpoint (= the resource indicator), e.g. `http://127.0.0.1:3000/mcp`. */
  url: string;
  /** The guard (for `ready()`, `verify()` and its configuration). */
  guard: McpAuthGuard;
  /** How many MCP requests reached the MCP handler (past the guard). */
  handled(): number;
  close(): Promise<void>;
}

interface Note { id: number; text: string; author: string }

/** One `McpServer` with the notes tools over a shared note list. */
function notesServer(notes: Note[], nextId: () => number): McpServer {
  const server = new McpServer({ name: 'demo-notes', version: '1.0.0' });
  const text = (value: unknown) => ({ content: [{ type: 'text' as const, text: JSON.stringify(value) }] });

  server.registerTool('list_notes', { description: 'List all notes (needs notes:read)' }, async () => text(notes));
  server.registerTool('add_note', {
    description: 'Add a note (needs notes:write)',
    inputSchema: { text: z.string().min(1).max(500) },
  }, async ({ text: body }, extra) => {
    // The verified token reaches the handler as extra.authInfo.
    const note = { id: nextId(), text: body, author: String(extra.authInfo?.extra?.sub ?? 'unknown') };
    notes.push(note);
    return text(note);
  });
  server.registerTool('delete_note', {
    description: 'Delete a note by id (needs notes:write)',
    inputSchema: { id: z.number().int() },
  }, async ({ id }) => {
    const i = notes.findIndex((n) => n.id === id);
    if (i !== -1) notes.splice(i, 1);
    return text({ deleted: i !== -1 });
  });
  return server;
}

/** Start the protected MCP server on 127.0.0.1. */
export async function startMcpServer(options: McpServerOptions): Promise<DemoMcpServer> {
  // Listen first: the default resource URI contains the port.
  const sockets = new Set<Socket>();
  const http: Server = createServer();
  http.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const port = (http.address() as AddressInfo).port;

  const env: Record<string, string> = { MCP_AUTH_RESOURCE: `http://127.0.0.1:${port}/mcp`, ...DEMO_ENV };
  for (const [name, value] of Object.entries(options.env)) if (value !== undefined && value !== '') env[name] = value;
  let guard: McpAuthGuard;
  try {
    guard = mcpAuth({ ...fromEnv(env) } as Options);
  } catch (err) {
    http.close();
    throw err;
  }
  const resource = guard.config.resource;

  const notes: Note[] = [{ id: 1, text: 'Welcome to the demo notes', author: 'system' }];
  let lastId = 1;
  let handled = 0;

  const app = express();
  // Development CORS so browser clients (MCP Inspector's direct mode) can call the endpoint.
  app.use((req, res, next) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', 'WWW-Authenticate, Mcp-Session-Id');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Mcp-Protocol-Version, Mcp-Session-Id, Last-Event-Id');
      res.status(204).end();
      return;
    }
    next();
  });
  app.use(guard.metadata());
  // The parser comes after protect(): no body is read before the token is checked (with a tool
  // policy the guard reads it itself; 4 MB is the MCP SDK's limit, Express's default is 100 kB).
  app.post(new URL(resource).pathname, guard.protect(), express.json({ limit: '4mb' }), async (req: Request, res: Response) => {
    handled++;
    const server = notesServer(notes, () => ++lastId);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch {
      if (!res.headersSent) res.status(500).json({ jsonrpc: '2.0', id: null, error: { code: -32603, message: 'Internal error' } });
    }
  });
  // Stateless: no server-initiated stream (GET) and no session to delete (DELETE).
  app.all(new URL(resource).pathname, guard.protect(), (_req, res) => {
    res.setHeader('Allow', 'POST');
    res.status(405).json({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Method not allowed' } });
  });
  http.on('request', app);

  return {
    url: resource,
    guard,
    handled: () => handled,
    close: async () => {
      await guard.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

// Run alone.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startMcpServer({ env: process.env, port: Number(process.env.MCP_PORT ?? 3000) });
  console.log(`protected MCP server: ${server.url} (issuer ${server.guard.config.issuer})`);
}
