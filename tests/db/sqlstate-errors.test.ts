/** The admin SQL functions' refusals as KeygateErrors (db/errors.ts, the SQLSTATE table). */
import { describe, expect, it } from "vitest";
import { KeygateError } from "../../functions/_shared/core/errors.ts";
import { mapDbError, missingCapabilityError } from "../../functions/_shared/db/errors.ts";

const sqlError = (code: string, detail?: string) => Object.assign(new Error("from postgres"), { code, detail });

describe("mapDbError: admin refusals", () => {
  it("turns a missing capability (KG009) into 403 forbidden naming what the detail lists", () => {
    const err = mapDbError(sqlError("KG009", "users.manage,capabilities.grant"));
    expect(err).toBeInstanceOf(KeygateError);
    expect(err).toMatchObject({
      status: 403,
      code: "forbidden",
      message: "This needs the capability users.manage and capabilities.grant.",
    });
  });

  it("names only known capabilities, and none without a detail", () => {
    expect(mapDbError(sqlError("KG009", "users.manage,<script>,"))).toMatchObject({
      message: "This needs the capability users.manage.",
    });
    for (const detail of [undefined, "", "drop table"]) {
      expect(mapDbError(sqlError("KG009", detail)), String(detail)).toMatchObject({
        status: 403,
        message: "This needs a capability you do not hold.",
      });
    }
  });

  it("turns the last-admin guard (KG008) into 409 last_admin and leaves anything else alone", () => {
    expect(mapDbError(sqlError("KG008"))).toMatchObject({ status: 409, code: "last_admin" });
    const other = sqlError("XX000");
    expect(mapDbError(other)).toBe(other);
    expect(mapDbError(null)).toBeNull();
  });

  it("turns the organization refusals (KG010-KG014) into their codes", () => {
    expect(mapDbError(sqlError("KG010"))).toMatchObject({ status: 409, code: "last_owner" });
    expect(mapDbError(sqlError("KG011"))).toMatchObject({ status: 404, code: "not_a_member" });
    expect(mapDbError(sqlError("KG012"))).toMatchObject({ status: 400, code: "invitation_invalid" });
    expect(mapDbError(sqlError("KG013"))).toMatchObject({ status: 409, code: "org_inactive" });
    expect(mapDbError(sqlError("KG014"))).toMatchObject({
      status: 403,
      code: "forbidden",
      message: "Your role in this organization does not allow this.",
    });
  });

  it("words a missing capability the same way the early check does", () => {
    expect(missingCapabilityError(["keys.revoke_any"]).message).toBe("This needs the capability keys.revoke_any.");
  });
});
