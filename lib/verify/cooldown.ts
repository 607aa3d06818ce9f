/**
 * The cooldown between fetches of the key set and of the metadata, in one place.
 */

/**
 * What is left, in milliseconds, of a `cooldownMs` cooldown after an attempt at `lastAttemptAt`:
 * 0 once it is over. A clock stepped back past the attempt (an NTP correction) ends it: the guard
 * never waits for the clock to catch up.
 */
export function cooldownLeftMs(now: number, lastAttemptAt: number, cooldownMs: number): number {
  return now < lastAttemptAt ? 0 : Math.max(0, cooldownMs - (now - lastAttemptAt));
}
