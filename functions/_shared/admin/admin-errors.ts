/**
 * The admin SQL functions' own refusal (SQLSTATE KG008, raised by
 * keygate.assert_not_last_admin) as a KeygateError; the shared SQLSTATEs are
 * mapped in db.ts.
 */
import { KeygateError } from "../errors.ts";

export function lastAdminError(err: unknown): unknown {
  if ((err as { code?: unknown })?.code === "KG008") {
    return new KeygateError("last_admin", "This is the last active admin: make another admin first.");
  }
  return err;
}
