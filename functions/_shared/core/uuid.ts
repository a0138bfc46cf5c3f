/** A UUID in its canonical textual form (any version, either case), as Postgres prints one. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `value` is a UUID: a path segment or cursor part worth sending to the database. */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
