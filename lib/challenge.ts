/**
 * The one `WWW-Authenticate` serializer: `Bearer` (RFC 6750 §3, RFC 9728 §5.1) and `DPoP`
 * (RFC 9449 §7.1) challenges.
 *
 * Each auth-param appears at most once, in a fixed order (`error`, `error_description`, `scope`,
 * `resource_metadata`, then a DPoP challenge's `algs`); quoted values are escaped (`\` and `"`),
 * and characters that are not printable ASCII are replaced, so a description can never break the
 * header or inject a parameter.
 * `error_description` keeps to RFC 6750 §3's set (%x20-21 / %x23-5B / %x5D-7E): a `"` in it
 * becomes `'` and a `\` becomes `/`, as that set has neither, escaped or not.
 */

/** Parameters of a challenge. Absent or empty values are omitted. */
export interface ChallengeParams {
  error?: string | undefined;
  error_description?: string | undefined;
  scope?: readonly string[] | undefined;
  resource_metadata?: string | undefined;
  /** `DPoP` challenges only: the proof algorithms accepted (RFC 9449 §7.1). */
  algs?: readonly string[] | undefined;
}

/** Quote a value as an RFC 9110 quoted-string. */
export function quote(value: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '\\$&')}"`;
}

/** Serialize a challenge of `scheme` (default `Bearer`). */
export function challenge(params: ChallengeParams, scheme: 'Bearer' | 'DPoP' = 'Bearer'): string {
  const parts: string[] = [];
  if (params.error) parts.push(`error=${quote(params.error)}`);
  if (params.error_description) parts.push(`error_description=${quote(params.error_description.replace(/"/g, "'").replace(/\\/g, '/'))}`);
  if (params.scope && params.scope.length > 0) parts.push(`scope=${quote(params.scope.join(' '))}`);
  if (params.resource_metadata) parts.push(`resource_metadata=${quote(params.resource_metadata)}`);
  if (params.algs && params.algs.length > 0) parts.push(`algs=${quote(params.algs.join(' '))}`);
  return parts.length === 0 ? scheme : `${scheme} ${parts.join(', ')}`;
}
