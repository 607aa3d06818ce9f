/**
 * The MCP SDK's experimental tasks (2025-11-25) behind a guard, for the task suites: one stateless
 * Express app on 127.0.0.1:0 whose requests share one `InMemoryTaskStore` (as a deployment shares
 * its store), a body parser before `protect()`. Tools: `report` (a task completed at once with
 * "report for <sub>"), `long_job` (a task left `working`), `check_in` (an ordinary tool that pings
 * the client first, as any tool that elicits or samples does). `rpc()` posts one JSON-RPC message
 * and reads the answers, JSON or SSE.
 */
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { EmptyResultSchema } from '@modelcontextprotocol/sdk/types.js';
import express from 'express';
import { mcpAuth, type Options } from '../../lib/index.js';
import type { LoopbackJwtSuite } from './fixture.js';
import { listen } from './http.js';

export interface RpcAnswer {
  status: number;
  challenge: string | undefined;
  /** The JSON-RPC messages of the answer (one for JSON, every event's for SSE). */
  messages: Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export interface TaskServer {
  /** Requests that reached the transport (after the guard). */
  calls(): number;
  rpc(token: string, body: unknown): Promise<RpcAnswer>;
  close(): Promise<void>;
}

/** Start one (closed by `close()`; its guard after the suite, by `fx`). `guard`: options beyond resource, issuer, jwksUri. */
export async function startTaskServer(fx: LoopbackJwtSuite, resource: string, guard: Partial<Options>, { json = true } = {}): Promise<TaskServer> {
  const auth = fx.track(mcpAuth({ resource, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, ...guard } as Options));
  const taskStore = new InMemoryTaskStore();
  let calls = 0;
  const app = express();
  app.use(express.json());
  app.post('/mcp', auth.protect(), async (req, res) => {
    calls++;
    const mcp = new McpServer({ name: 'tasks', version: '1.0.0' }, { capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }, taskStore });
    mcp.experimental.tasks.registerToolTask('report', { description: 'a report' }, {
      createTask: async (extra) => {
        const task = await extra.taskStore.createTask({ ttl: 60_000 });
        await extra.taskStore.storeTaskResult(task.taskId, 'completed', { content: [{ type: 'text', text: `report for ${String(extra.authInfo?.extra?.sub)}` }] });
        return { task };
      },
      getTask: async (extra) => (await extra.taskStore.getTask(extra.taskId))!,
      getTaskResult: async (extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as never,
    });
    mcp.experimental.tasks.registerToolTask('long_job', { description: 'a long job' }, {
      createTask: async (extra) => ({ task: await extra.taskStore.createTask({ ttl: 60_000 }) }),
      getTask: async (extra) => (await extra.taskStore.getTask(extra.taskId))!,
      getTaskResult: async (extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as never,
    });
    mcp.registerTool('check_in', { description: 'anyone' }, async (extra) => {
      try { await extra.sendRequest({ method: 'ping' }, EmptyResultSchema, { timeout: 1 }); } catch { /* no client to answer in stateless mode */ }
      return { content: [{ type: 'text', text: 'checked in' }] };
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: json });
    res.on('close', () => { void transport.close(); void mcp.close(); });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  const srv = await listen(app);
  return {
    calls: () => calls,
    async rpc(token, body) {
      const r = await fetch(`${srv.url}/mcp`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json', 'MCP-Protocol-Version': '2025-11-25' },
        body: JSON.stringify(body),
      });
      const text = await r.text();
      const messages = (r.headers.get('content-type') ?? '').startsWith('text/event-stream')
        ? text.split('\n\n').map((b) => b.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('')).filter((d) => d !== '').map((d) => JSON.parse(d))
        : text === '' ? [] : [JSON.parse(text)];
      return { status: r.status, challenge: r.headers.get('www-authenticate') ?? undefined, messages, text };
    },
    async close() {
      taskStore.cleanup();
      await srv.close();
    },
  };
}
