/**
 * Spawn the CLI as a child process, asynchronously (never spawnSync: the servers it talks to live
 * in this process). Runs the TypeScript source through tsx, so no build is needed.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../lib/cli/main.ts', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `mcp-oauth-guard ...args` with exactly `env` (plus PATH/HOME), optionally writing `stdin`. */
export function runCli(args: readonly string[], env: Record<string, string>, stdin?: string, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`CLI timed out: ${args.join(' ')}\n${stdout}\n${stderr}`)); }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(stdin ?? '');
  });
}

/** Checks of a `doctor --json` run, by id. */
export function checksOf(stdout: string): Record<string, { status: string; message: string; fix?: string }> {
  const report = JSON.parse(stdout) as { ok: boolean; checks: { id: string; status: string; message: string; fix?: string }[] };
  return Object.fromEntries(report.checks.map((c) => [c.id, c]));
}
