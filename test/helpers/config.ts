/** The problems `mcpAuth()` would report for `options` (its `ConfigError`'s list), `[]` when they are valid. */
import { ConfigError } from '../../lib/errors.js';
import { resolveOptions, type Options } from '../../lib/options.js';

export function configProblems(options: unknown): readonly string[] {
  try {
    resolveOptions(options as Options);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}
