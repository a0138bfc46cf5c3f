/**
 * The admin refusals: a missing capability (403 `forbidden`, naming what is
 * missing), whether the early check in TypeScript finds it or the SQL
 * function that makes the change does, under its lock (SQLSTATE KG009, the
 * missing capabilities in the error's detail); and the last active admin
 * (SQLSTATE KG008, raised by keygate.assert_not_last_admin). The shared
 * SQLSTATEs are mapped in db.ts.
 */
import { KeygateError } from "../errors.ts";
import { isCapability } from "./capabilities.ts";

export function missingCapabilityError(missing: readonly string[]): KeygateError {
  return new KeygateError(
    "forbidden",
    missing.length > 0
      ? `This needs the capability ${missing.join(" and ")}.`
      : "This needs a capability you do not hold.",
  );
}

/** An admin SQL function's own refusal as a KeygateError; anything else unchanged. */
export function adminError(err: unknown): unknown {
  const { code, detail } = (err ?? {}) as { code?: unknown; detail?: unknown };
  if (code === "KG009") {
    // Only names the SQL rule can produce reach the message.
    return missingCapabilityError(typeof detail === "string" ? detail.split(",").filter(isCapability) : []);
  }
  if (code === "KG008") {
    return new KeygateError("last_admin", "This is the last active admin: make another admin first.");
  }
  return err;
}
