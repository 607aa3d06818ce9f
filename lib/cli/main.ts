#!/usr/bin/env node
/**
 * The `mcp-oauth-guard` command: `doctor` (diagnose the `MCP_AUTH_*` configuration against the
 * authorization server) and `check` (validate one token as the middleware would).
 *
 * Exit codes: 0 all checks passed / token allowed; 1 a check failed / token refused; 2 usage or
 * configuration error. `--json` prints one JSON document on stdout instead of text.
 * Framework-free: no Express is loaded.
 */
import { ConfigError } from '../errors.js';
import { formatCheck, runCheck } from './check.js';
import { formatDoctor, runDoctor } from './doctor.js';

const USAGE = `Usage: mcp-oauth-guard <command> [options]

Commands:
  doctor                 Check the MCP_AUTH_* configuration against the authorization server:
                         resource URL, metadata and issuer, JWKS, introspection, tool policy.
  check [--] [TOKEN | -] Validate one access token as the middleware does and explain the
                         decision. Without TOKEN (or with -) the token is read from stdin,
                         which keeps it out of your shell history and the process list.

Options:
  --json                 Print a JSON document instead of text.
  --tool NAME            (check) Also say whether the token may call tool NAME (repeatable).
  -h, --help             This help.

Configuration comes from MCP_AUTH_* environment variables (see the README).
Exit codes: 0 pass / allowed, 1 failed check / refused, 2 usage or configuration error.
`;

/** A mistake in the command line (exit code 2). */
class UsageError extends Error {}

interface Args {
  command: string | undefined;
  positional: string[];
  json: boolean;
  help: boolean;
  tools: string[];
}

/** An argument as a usage error may show it: a short word, else a placeholder (it may be a token). */
function shown(arg: string): string {
  return /^-{0,2}[A-Za-z][A-Za-z0-9-]{0,15}$/.test(arg) ? arg : '(an argument not shown: it may be a token)';
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { command: undefined, positional: [], json: false, help: false, tools: [] };
  let options = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!options || (!a.startsWith('-') || a === '-')) {
      if (args.command === undefined) args.command = a;
      else args.positional.push(a);
    } else if (a === '--') options = false;
    else if (a === '--json') args.json = true;
    else if (a === '-h' || a === '--help') args.help = true;
    else if (a === '--tool') {
      const name = argv[++i];
      if (name === undefined) throw new UsageError('--tool needs a tool name');
      args.tools.push(name);
    } else if (a.startsWith('--tool=')) args.tools.push(a.slice('--tool='.length));
    else throw new UsageError(`unknown option ${shown(a)}`);
  }
  return args;
}


async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    total += b.length;
    if (total > 1 << 20) throw new UsageError('stdin is larger than 1 MiB: not a token');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Strip whitespace and an optional `Bearer ` prefix (a copied header value). */
function cleanToken(raw: string): string {
  return raw.trim().replace(/^bearer\s+/i, '').trim();
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.help || args.command === undefined || args.command === 'help') {
    process.stdout.write(USAGE);
    return args.command === undefined && !args.help ? 2 : 0;
  }
  if (args.command === 'doctor') {
    if (args.positional.length > 0 || args.tools.length > 0) throw new UsageError('doctor takes no arguments besides --json');
    const report = await runDoctor(process.env);
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report));
    return report.ok ? 0 : 1;
  }
  if (args.command === 'check') {
    if (args.positional.length > 1) throw new UsageError('check takes one token');
    const given = args.positional[0];
    let raw: string;
    if (given !== undefined && given !== '-') raw = given;
    else if (given === '-' || !process.stdin.isTTY) raw = await readStdin();
    else throw new UsageError('give the token as an argument, or on stdin');
    const token = cleanToken(raw);
    if (token === '' || /\s/.test(token)) throw new UsageError('the token is empty or contains whitespace');
    const report = await runCheck(token, { env: process.env, tools: args.tools });
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatCheck(report));
    return report.decision === 'allow' ? 0 : 1;
  }
  throw new UsageError(`unknown command ${shown(args.command)}`);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`mcp-oauth-guard: ${err.message}\n\n${USAGE}`);
    } else if (err instanceof ConfigError) {
      process.stderr.write(`mcp-oauth-guard: invalid configuration:\n${err.problems.map((p) => `  - ${p}`).join('\n')}\nRun \`mcp-oauth-guard doctor\` for details.\n`);
    } else {
      // Never print a stack or anything that could carry a token: the error name is enough.
      process.stderr.write(`mcp-oauth-guard: unexpected failure (${err instanceof Error ? err.name : 'unknown'})\n`);
    }
    process.exitCode = 2;
  },
);
