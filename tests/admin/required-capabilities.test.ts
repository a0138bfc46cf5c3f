/**
 * Which capability each admin action needs (a pure decision), which must be
 * exactly the rule of the SQL function keygate.admin_required_capabilities
 * that the admin changes apply under their lock; and the users cursor.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeygateError } from "../../functions/_shared/core/errors.ts";
import {
  type AdminAction,
  assertCapabilities,
  requiredCapabilities,
} from "../../functions/_shared/handlers/admin/required-capabilities.ts";
import { decodeUserCursor, encodeUserCursor } from "../../functions/_shared/handlers/admin/user-cursor.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

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

describe("requiredCapabilities against keygate.admin_required_capabilities", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("agrees with the SQL function for every action, target role and change", async () => {
    const roles = ["", "viewer", "member", "admin"] as const;
    const changes = [undefined, "viewer", "member", "admin"] as const;
    const lists = [undefined, [], ["users.read"]];
    const actions: AdminAction[] = [
      { kind: "list_users" },
      { kind: "get_user" },
      { kind: "read_audit" },
      { kind: "revoke_key" },
      { kind: "list_orgs" },
      { kind: "set_org_active" },
      ...roles.map((targetRole): AdminAction => ({ kind: "set_active", targetRole })),
      ...roles.flatMap((targetRole) =>
        changes.flatMap((role) =>
          lists.map((capabilities): AdminAction => ({ kind: "update_user", targetRole, role, capabilities })),
        ),
      ),
    ];
    const sql: string[][] = [];
    for (const a of actions) {
      const { rows } = await database.admin.query<{ needs: string[] }>(
        "select keygate.admin_required_capabilities($1, $2, $3, $4) as needs",
        [
          a.kind,
          "targetRole" in a ? a.targetRole || null : null,
          a.kind === "update_user" ? (a.role ?? null) : null,
          a.kind === "update_user" ? (a.capabilities ?? null) : null,
        ],
      );
      sql.push(rows[0].needs);
    }
    expect(actions.map((a) => requiredCapabilities(a))).toEqual(sql);
    // Not trivially uniform: nothing, one capability, and two.
    expect(new Set(sql.map((needs) => needs.length))).toEqual(new Set([0, 1, 2]));
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
