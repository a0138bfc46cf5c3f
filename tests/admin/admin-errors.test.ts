/** The admin SQL functions' refusals as KeygateErrors (admin-errors.ts). */
import { describe, expect, it } from "vitest";
import { adminError, missingCapabilityError } from "../../functions/_shared/admin/admin-errors.ts";
import { KeygateError } from "../../functions/_shared/errors.ts";

const sqlError = (code: string, detail?: string) => Object.assign(new Error("from postgres"), { code, detail });

describe("adminError", () => {
  it("turns a missing capability (KG009) into 403 forbidden naming what the detail lists", () => {
    const err = adminError(sqlError("KG009", "users.manage,capabilities.grant"));
    expect(err).toBeInstanceOf(KeygateError);
    expect(err).toMatchObject({
      status: 403,
      code: "forbidden",
      message: "This needs the capability users.manage and capabilities.grant.",
    });
  });

  it("names only known capabilities, and none without a detail", () => {
    expect(adminError(sqlError("KG009", "users.manage,<script>,"))).toMatchObject({
      message: "This needs the capability users.manage.",
    });
    for (const detail of [undefined, "", "drop table"]) {
      expect(adminError(sqlError("KG009", detail)), String(detail)).toMatchObject({
        status: 403,
        message: "This needs a capability you do not hold.",
      });
    }
  });

  it("turns the last-admin guard (KG008) into 409 last_admin and leaves anything else alone", () => {
    expect(adminError(sqlError("KG008"))).toMatchObject({ status: 409, code: "last_admin" });
    const other = sqlError("23505");
    expect(adminError(other)).toBe(other);
    expect(adminError(null)).toBeNull();
  });

  it("words a missing capability the same way the early check does", () => {
    expect(missingCapabilityError(["keys.revoke_any"]).message).toBe("This needs the capability keys.revoke_any.");
  });
});
