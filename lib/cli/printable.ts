/**
 * Text from tokens and authorization servers, made safe for a terminal line: control characters
 * (C0, DEL, C1: line breaks, ANSI escapes) are written as `\uXXXX`, so a claim or a server's value
 * can neither add a line to a report nor drive the terminal. Used by the text output of `check`
 * and `doctor` (their `--json` output is JSON, escaped already).
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** `text` with every control character written as `\uXXXX`. */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
