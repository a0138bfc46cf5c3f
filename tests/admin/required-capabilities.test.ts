/** Which capability each admin action needs (a pure decision), and the users cursor. */
import { describe, expect, it } from "vitest";
import { assertCapabilities, requiredCapabilities } from "../../functions/_shared/admin/required-capabilities.ts";
import { decodeUserCursor, encodeUserCursor } from "../../functions/_shared/admin/user-cursor.ts";
import { KeygateError } from "../../functions/_shared/errors.ts";

describe("requiredCapabilities", () => {
  it("maps reads and key revocation to their capability", () => {
    expect(requiredCapabilities({ kind: "list_users" })).toEqual(["users.read"]);
    expect(requiredCapabilities({ kind: "get_user" })).toEqual(["users.read"]);
    expect(requiredCapabilities({ kind: "read_audit" })).toEqual(["audit.read"]);
    expect(requiredCapabilities({ kind: "revoke_key" })).toEqual(["keys.revoke_any"]);
  });

  it("needs capabilities.grant as well to act on an admin or to make one", () => {
    expect(requiredCapabilities({ kind: "set_active", targetRole: "member" })).toEqual(["users.manage"]);
    expect(requiredCapabilities({ kind: "set_active", targetRole: "admin" })).toEqual([
      "users.manage",
      "capabilities.grant",
    ]);
    expect(requiredCapabilities({ kind: "update_user", targetRole: "viewer", role: "member" })).toEqual([
      "users.manage",
    ]);
    expect(requiredCapabilities({ kind: "update_user", targetRole: "viewer", role: "admin" })).toEqual([
      "users.manage",
      "capabilities.grant",
    ]);
    expect(requiredCapabilities({ kind: "update_user", targetRole: "admin", role: "viewer" })).toEqual([
      "users.manage",
      "capabilities.grant",
    ]);
    expect(requiredCapabilities({ kind: "update_user", targetRole: "member", capabilities: [] })).toEqual([
      "capabilities.grant",
    ]);
    expect(requiredCapabilities({ kind: "update_user", targetRole: "member", role: "member" })).toEqual([]);
  });

  it("refuses with 403 forbidden naming what is missing", () => {
    expect(() => assertCapabilities(["users.read"], ["users.read"])).not.toThrow();
    const err = (() => {
      try {
        assertCapabilities(["users.read"], ["users.manage", "capabilities.grant"]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(KeygateError);
    expect(err).toMatchObject({
      status: 403,
      code: "forbidden",
      message: "This needs the capability users.manage and capabilities.grant.",
    });
  });
});

describe("the users cursor", () => {
  it("round-trips and lower-cases the email", () => {
    const id = crypto.randomUUID();
    expect(decodeUserCursor(encodeUserCursor({ email: "Zoë@Example.test", id }))).toEqual({
      email: "zoë@example.test",
      id,
    });
  });

  it("refuses anything it did not make with 400", () => {
    for (const text of ["", "%%%", btoa("[1,2]"), btoa('["a","not-a-uuid"]'), "a".repeat(2000)]) {
      expect(() => decodeUserCursor(text), text).toThrow(expect.objectContaining({ code: "validation_failed" }));
    }
  });
});
