/**
 * Text from tokens and authorization servers, made safe for a terminal line: control characters
 * (C0, DEL, C1: line breaks, ANSI escapes), Unicode line and paragraph separators (U+2028, U+2029)
 * and bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069: text that
 * reads differently from its bytes, CVE-2021-42574) are written as `\uXXXX`, so a claim or a
 * server's value can neither add a line to a report, drive the terminal, nor disguise itself.
 * Used by the text output of `check` and `doctor` (their `--json` output is JSON, escaped already).
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every control character written as `\uXXXX`. */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
