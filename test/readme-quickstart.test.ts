/**
 * The README's Quick start server, as written: its first `ts` block is copied to a file (with
 * `mcp-oauth-guard` pointing at this checkout's `lib/`), type-checked, started with `tsx` and the
 * environment the README gives, against a loopback authorization server, and used by the real MCP
 * SDK client. If the README's block stops compiling or working, this fails.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { makeKey, type TestKey } from './helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from './helpers/loopback-as.js';
import { tokenBuilder } from './helpers/tokens.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Under node_modules, so the block's imports (express, zod, the SDK) resolve from this checkout.
const dir = join(root, 'node_modules', '.cache', `readme-quickstart-${process.pid}`);
let as: LoopbackAS;
let key: TestKey;
let child: ChildProcess;
let url: URL;
let output = '';

/** The first ```ts block under "## Quick start". */
function quickStartBlock(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Install'));
  const block = /```ts\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README: no ts block in Quick start');
  return block[1]!;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Poll the metadata document until the server answers (bounded: 150 × 100 ms). */
async function waitUntilUp(): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`the Quick start server exited: ${output}`);
    const ok = await fetch(new URL('/.well-known/oauth-protected-resource/mcp', url)).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the Quick start server did not answer: ${output}`);
}

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('RS256');
  as.keys = [key.publicJwk];
  const lib = relative(dir, join(root, 'lib', 'index.js')).split(sep).join('/');
  const code = quickStartBlock().replace("from 'mcp-oauth-guard'", `from ${JSON.stringify(lib)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n'); // the README's `npm pkg set type=module`
  writeFileSync(join(dir, 'server.ts'), code);
  const port = await freePort();
  url = new URL(`http://127.0.0.1:${port}/mcp`);
  child = spawn(process.execPath, ['--import', 'tsx', join(dir, 'server.ts')], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', MCP_AUTH_RESOURCE: url.href, MCP_AUTH_ISSUER: as.issuer, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  await waitUntilUp();
}, 30_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
  }
  rmSync(dir, { recursive: true, force: true });
  await as.close();
});

async function connect(scope: string): Promise<Client> {
  const token = await tokenBuilder({ issuer: as.issuer, audience: url.href })(key, { scope });
  const client = new Client({ name: 'readme', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

test('the block type-checks as written (strict, NodeNext)', async () => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = ['--noEmit', '--strict', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--types', 'node', '--skipLibCheck', join(dir, 'server.ts')];
  const result = await promisify(execFile)(process.execPath, [tsc, ...args], { cwd: dir, timeout: 90_000 }).then(() => '', (e: { stdout?: string }) => e.stdout ?? String(e));
  expect(result).toBe('');
}, 100_000);

test('without a token: 401 whose challenge points at the metadata the server serves', async () => {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' });
  expect(res.status).toBe(401);
  const metadataUrl = /resource_metadata="([^"]+)"/.exec(res.headers.get('www-authenticate') ?? '')?.[1];
  expect(metadataUrl).toBe(`${url.origin}/.well-known/oauth-protected-resource/mcp`);
  const metadata = await (await fetch(metadataUrl!)).json() as { resource: string; authorization_servers: string[] };
  expect(metadata).toMatchObject({ resource: url.href, authorization_servers: [as.issuer] });
});

test('stateless: GET and DELETE of the endpoint are 405 with Allow: POST (Streamable HTTP)', async () => {
  for (const method of ['GET', 'DELETE']) {
    const res = await fetch(url, { method, headers: { Accept: 'text/event-stream' } });
    expect({ method, status: res.status, allow: res.headers.get('allow') }).toEqual({ method, status: 405, allow: 'POST' });
  }
});

test('a notes:read token sees and calls list_notes only; add_note is refused with 403', async () => {
  const client = await connect('notes:read');
  try {
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['list_notes']);
    expect(await client.callTool({ name: 'list_notes', arguments: {} })).toMatchObject({ content: [{ type: 'text' }] });
    const err = await client.callTool({ name: 'add_note', arguments: { text: 'x' } }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StreamableHTTPError);
    expect((err as StreamableHTTPError).code).toBe(403);
  } finally {
    await client.close();
  }
});

test('a notes:write token adds a note, under the client id the guard verified', async () => {
  const client = await connect('notes:read notes:write');
  try {
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['add_note', 'list_notes']);
    await client.callTool({ name: 'add_note', arguments: { text: 'hello' } });
    expect(await client.callTool({ name: 'list_notes', arguments: {} })).toMatchObject({ content: [{ type: 'text', text: 'client-1: hello' }] });
  } finally {
    await client.close();
  }
});
