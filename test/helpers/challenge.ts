/** A strict parser of `Bearer k="v", k2="v2"` challenges, for assertions (each param counted). */
export interface ParsedChallenge {
  scheme: string;
  params: Record<string, string>;
  /** Every parameter name in order, repeats included. */
  names: string[];
}

export function parseChallenge(header: string | string[] | undefined): ParsedChallenge {
  if (typeof header !== 'string') throw new Error(`expected one WWW-Authenticate header, got ${JSON.stringify(header)}`);
  const m = /^(\S+)(?: (.*))?$/.exec(header);
  if (!m) throw new Error('unparseable challenge');
  const params: Record<string, string> = {};
  const names: string[] = [];
  let rest = m[2] ?? '';
  const param = /^([a-z_]+)="((?:[^"\\]|\\.)*)"(?:, |$)/;
  while (rest !== '') {
    const p = param.exec(rest);
    if (!p) throw new Error(`unparseable challenge parameters at: ${rest.slice(0, 40)}`);
    names.push(p[1]!);
    params[p[1]!] = p[2]!.replace(/\\(.)/g, '$1');
    rest = rest.slice(p[0].length);
  }
  return { scheme: m[1]!, params, names };
}
