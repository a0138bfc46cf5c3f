/**
 * `Retry-After` seconds for a database that is down or out of connections:
 * a whole number from 1 to 5, drawn at random, so that the clients turned
 * away in one moment do not all come back in the same second.
 */
export const RETRY_AFTER_MIN_SECONDS = 1;
export const RETRY_AFTER_MAX_SECONDS = 5;

export function jitteredRetryAfter(random: () => number = Math.random): string {
  const span = RETRY_AFTER_MAX_SECONDS - RETRY_AFTER_MIN_SECONDS + 1;
  const offset = Math.min(span - 1, Math.floor(random() * span));
  return String(RETRY_AFTER_MIN_SECONDS + offset);
}
