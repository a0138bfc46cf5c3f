/** Arrangements of the key suites only: a Db that records what the verifier runs. */
import type { Db } from "../../functions/_shared/db/db.ts";

/** The statements the key verifier runs, as `countingDb` records them. */
export const VERIFY_SQL = "select * from keygate.lookup_api_key($1)";
export const TOUCH_SQL = "select keygate.touch_api_key($1)";

/** A Db that counts the statements it runs, by their text. */
export function countingDb(db: Db): Db & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    query(text, values) {
      calls.push(text);
      return db.query(text, values);
    },
    end: () => db.end(),
  };
}
