/**
 * The one `WWW-Authenticate: Bearer …` serializer (RFC 6750 §3, RFC 9728 §5.1).
 *
 * Each auth-param appears at most once, in a fixed order (`error`, `error_description`, `scope`,
 * `resource_metadata`); quoted values are escaped (`\` and `"`), and characters that are not
 * printable ASCII are replaced, so a description can never break the header or inject a parameter.
 * `error_description` keeps to RFC 6750 §3's set (%x20-21 / %x23-5B / %x5D-7E): a `"` in it
 * becomes `'` and a `\` becomes `/`, as that set has neither, escaped or not.
 */

/** Parameters of a Bearer challenge. Absent or empty values are omitted. */
export interface ChallengeParams {
  error?: string | undefined;
  error_description?: string | undefined;
  scope?: readonly string[] | undefined;
  resource_metadata?: string | undefined;
}

/** Quote a value as an RFC 9110 quoted-string. */
export function quote(value: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '\\$&')}"`;
}

/** Serialize a Bearer challenge. */
export function bearerChallenge(params: ChallengeParams): string {
  const parts: string[] = [];
  if (params.error) parts.push(`error=${quote(params.error)}`);
  if (params.error_description) parts.push(`error_description=${quote(params.error_description.replace(/"/g, "'").replace(/\\/g, '/'))}`);
  if (params.scope && params.scope.length > 0) parts.push(`scope=${quote(params.scope.join(' '))}`);
  if (params.resource_metadata) parts.push(`resource_metadata=${quote(params.resource_metadata)}`);
  return parts.length === 0 ? 'Bearer' : `Bearer ${parts.join(', ')}`;
}
