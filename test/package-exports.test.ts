/**
 * The BUILT package, imported by its name from the repository root: Node resolves
 * `mcp-oauth-guard` to this package through its own `exports` map (self-reference), so this
 * proves the map, the ESM output and the type declarations.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

beforeAll(async () => {
  await run('npm', ['run', 'build', '--silent'], { cwd: root, timeout: 120_000 });
}, 130_000);

test('package.json: exports map with types first, ESM, engines', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  expect(pkg.name).toBe('mcp-oauth-guard');
  expect(pkg.type).toBe('module');
  expect(Object.keys(pkg.exports['.'])[0]).toBe('types');
  expect(pkg.engines.node).toBe('>=20.19');
  expect(pkg.peerDependencies.express).toMatch(/\^4.*\^5/);
  for (const file of [pkg.exports['.'].types, pkg.exports['.'].import]) expect(existsSync(join(root, file))).toBe(true);
});

test('dist has declarations for every module', () => {
  for (const f of ['index', 'guard', 'options', 'errors', 'env', 'bearer', 'challenge', 'metadata', 'express/protect', 'verify/jwks', 'verify/jwt']) {
    expect(existsSync(join(root, 'dist', `${f}.js`))).toBe(true);
    expect(existsSync(join(root, 'dist', `${f}.d.ts`))).toBe(true);
  }
  const dts = readFileSync(join(root, 'dist/index.d.ts'), 'utf8');
  for (const name of ['mcpAuth', 'fromEnv', 'requireScopes', 'McpAuthError', 'ConfigError', 'AuthInfo', 'Options']) expect(dts).toContain(name);
});

test('every source map in dist carries its sources (the package ships dist, not lib/*.ts)', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  expect(pkg.files).not.toContain('lib');
  const maps = readdirSync(join(root, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js.map'));
  expect(maps.length).toBeGreaterThan(20);
  for (const f of maps) {
    const map = JSON.parse(readFileSync(join(root, 'dist', f), 'utf8')) as { sources: string[]; sourcesContent?: unknown[] };
    expect({ f, n: map.sourcesContent?.length }).toEqual({ f, n: map.sources.length });
    for (const text of map.sourcesContent ?? []) expect(typeof text === 'string' && text.length > 0).toBe(true);
  }
});

test('import("mcp-oauth-guard") by name from the repository root works, silently, and the guard runs', async () => {
  const script = `
    const m = await import('mcp-oauth-guard');
    const names = Object.keys(m).sort();
    let config;
    try { m.mcpAuth({ resource: 'https://x.example/mcp', isuer: 'https://as.example' }); } catch (e) { config = [e instanceof m.ConfigError, e.code, e.problems.length]; }
    const g = m.mcpAuth({ resource: 'https://x.example/mcp', issuer: 'https://as.example', jwksUri: 'https://as.example/jwks' });
    const v = await g.verify('not a token').catch((e) => [e instanceof m.McpAuthError, e.status, e.reason]);
    await g.close();
    process.stdout.write(JSON.stringify({ names, config, v, resolved: import.meta.resolve('mcp-oauth-guard') }));
  `;
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeout: 30_000, env: { PATH: process.env.PATH ?? '' } });
  expect(stderr).toBe('');
  const out = JSON.parse(stdout);
  expect(out.resolved).toBe(pathToFileURL(join(root, 'dist/index.js')).href);
  expect(out.names).toEqual(expect.arrayContaining([
    'mcpAuth', 'fromEnv', 'ENV_VARIABLES', 'requireScopes', 'hasScopes', 'McpAuthError', 'MissingTokenError', 'InvalidRequestError',
    'InvalidTokenError', 'InvalidDpopProofError', 'UseDpopNonceError', 'InsufficientScopeError', 'AuthUnavailableError', 'AuthMisconfiguredError', 'SessionNotFoundError', 'HeaderMismatchError', 'ConfigError', 'JSONRPC_CODES',
    'isMcpAuthError', 'DEFAULT_ALGORITHMS',
  ]));
  expect(out.config).toEqual([true, 'CONFIG_INVALID', 2]);
  expect(out.v).toEqual([true, 401, 'malformed_token']);
}, 60_000);

test('npm pack from a fresh checkout builds first (prepack) and ships dist as built now: the entry points, nothing an older build left', async () => {
  // A copy of what a clone holds (no dist/), plus a module an older build left behind.
  const dir = mkdtempSync(join(tmpdir(), 'mcp-oauth-guard-pack-'));
  try {
    for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE']) cpSync(join(root, f), join(dir, f));
    cpSync(join(root, 'lib'), join(dir, 'lib'), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    mkdirSync(join(dir, 'dist', 'policy'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'policy', 'stale.js'), 'export const stale = true;\n');
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json'], { cwd: dir, timeout: 120_000 });
    // The build's own output may precede the JSON document.
    const files = (JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    for (const entry of [pkg.main, pkg.types, pkg.exports['.'].import, pkg.exports['.'].types, pkg.bin['mcp-oauth-guard']]) expect(files).toContain(String(entry).replace(/^\.\//, ''));
    expect(files).not.toContain('dist/policy/stale.js');
    expect(files.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(f))).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 130_000);
