/**
 * `npm start`: the development authorization server and the protected MCP server on loopback
 * ports, the client walkthrough once, then both servers stay up for another MCP client.
 *
 *   npm start                          walkthrough, then keep serving (Ctrl-C to stop)
 *   npm start -- --once                walkthrough, then exit (0 when every step succeeded)
 *   npm start -- --opaque              the MCP server accepts opaque tokens, checked by introspection
 *   npm start -- --as-port=4000 --mcp-port=3000     (or AS_PORT / MCP_PORT; 0 = any free port)
 *
 * Exits non-zero when a step fails. Any MCP_AUTH_* variable set in the environment overrides the
 * demo's configuration of the guard.
 */
import { pathToFileURL } from 'node:url';
import { startAuthorizationServer, type DemoAuthorizationServer } from './authorization-server.js';
import { runWalkthrough } from './client.js';
import { startMcpServer, type DemoMcpServer } from './mcp-server.js';

/** Parsed command line. */
export interface StartOptions {
  once: boolean;
  opaque: boolean;
  asPort: number;
  mcpPort: number;
}

/** Parse flags (and AS_PORT / MCP_PORT). Throws on an unknown flag or a bad port. */
export function parseArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): StartOptions {
  const out: StartOptions = { once: false, opaque: false, asPort: port(env.AS_PORT ?? '4000', 'AS_PORT'), mcpPort: port(env.MCP_PORT ?? '3000', 'MCP_PORT') };
  for (const arg of argv) {
    const [flag, value] = arg.split('=', 2) as [string, string | undefined];
    if (flag === '--once') out.once = true;
    else if (flag === '--opaque') out.opaque = true;
    else if (flag === '--as-port' && value !== undefined) out.asPort = port(value, '--as-port');
    else if (flag === '--mcp-port' && value !== undefined) out.mcpPort = port(value, '--mcp-port');
    else throw new Error(`unknown argument "${arg}" (flags: --once, --opaque, --as-port=N, --mcp-port=N)`);
  }
  return out;
}

function port(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number (0 = any free port)`);
  return n;
}

/** The running demo. */
export interface Demo {
  as: DemoAuthorizationServer;
  mcp: DemoMcpServer;
  close(): Promise<void>;
}

/** Start both servers: the authorization server first (its issuer goes into the guard's environment). */
export async function startDemo(opts: Pick<StartOptions, 'opaque' | 'asPort' | 'mcpPort'>, env: Readonly<Record<string, string | undefined>> = {}): Promise<Demo> {
  const as = await startAuthorizationServer({ port: opts.asPort });
  let mcp: DemoMcpServer;
  try {
    mcp = await startMcpServer({
      port: opts.mcpPort,
      env: {
        MCP_AUTH_ISSUER: as.issuer,
        ...(opts.opaque ? {
          MCP_AUTH_TOKEN_FORMAT: 'auto',
          MCP_AUTH_CLIENT_ID: as.introspectionClient.clientId,
          MCP_AUTH_CLIENT_SECRET: as.introspectionClient.clientSecret,
        } : {}),
        ...env,
      },
    });
  } catch (err) {
    await as.close();
    throw err;
  }
  as.addResource(mcp.url, { format: opts.opaque ? 'opaque' : 'jwt' });
  return {
    as,
    mcp,
    close: async () => {
      await mcp.close();
      await as.close();
    },
  };
}

async function main(): Promise<number> {
  let opts: StartOptions;
  try {
    opts = parseArgs(process.argv.slice(2), process.env);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const mcpAuthEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MCP_AUTH_')));
  let demo: Demo;
  try {
    demo = await startDemo(opts, mcpAuthEnv);
  } catch (err) {
    const e = err as Error & { code?: string; problems?: readonly string[] };
    console.error(`could not start the demo: ${e.problems ? e.problems.join('; ') : e.message}`);
    if (e.code === 'EADDRINUSE') console.error('choose other ports: --as-port=N --mcp-port=N (0 = any free port)');
    return 1;
  }
  console.log('mcp-oauth-guard demo');
  console.log(`  authorization server (development only, oidc-provider): ${demo.as.issuer}`);
  console.log(`  protected MCP server: ${demo.mcp.url}  (${opts.opaque ? 'opaque tokens, introspection' : 'JWT access tokens, JWKS'})`);
  console.log('');
  console.log('walkthrough (MCP SDK client):');
  const result = await runWalkthrough({ mcpUrl: demo.mcp.url });
  const failed = result.steps.filter((s) => !s.ok);
  console.log('');
  console.log(failed.length === 0
    ? `all ${result.steps.length} steps succeeded`
    : `${failed.length} of ${result.steps.length} steps FAILED: ${failed.map((s) => s.step).join(', ')}`);
  if (opts.once || failed.length > 0) {
    await demo.close();
    return failed.length === 0 ? 0 : 1;
  }
  console.log('');
  console.log('the servers stay up; connect another MCP client:');
  console.log(`  MCP endpoint: ${demo.mcp.url}   (Streamable HTTP)`);
  console.log('  MCP Inspector: npx @modelcontextprotocol/inspector, transport "Streamable HTTP",');
  console.log(`    URL ${demo.mcp.url} exactly (the resource is compared as a string), Connect;`);
  console.log('    its OAuth flow registers, then the demo user signs in and consents without a page');
  console.log(`  protected resource metadata: ${demo.mcp.guard.config.resourceMetadataUrl}`);
  console.log(`  authorization server metadata: ${demo.as.issuer}/.well-known/openid-configuration`);
  console.log('Ctrl-C to stop.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await demo.close();
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
