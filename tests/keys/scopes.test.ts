/**
 * The role ceiling in TypeScript (`roleAllowsScope`, `scopesWithinRole`),
 * which the key verifier applies to what `keygate.lookup_api_key` returns:
 * it must be exactly the rule of the SQL function `keygate.role_allows_scope`,
 * which key creation and rotation (and `keygate.verify_api_key`) use.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roleAllowsScope, scopeLevel, scopesWithinRole } from "../../functions/_shared/keys/scopes.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

const ROLES = ["viewer", "member", "admin", "nobody"];
const SCOPES = ["jobs:read", "jobs:write", "jobs:work", "x:admin", "x:read", "read", "a:b:read", ":read", "x:ADMIN"];

describe("scopeLevel", () => {
  it("reads the level from the scope's name: *:read, *:admin, anything else write", () => {
    expect(SCOPES.map((scope) => [scope, scopeLevel(scope)])).toEqual([
      ["jobs:read", "read"],
      ["jobs:write", "write"],
      ["jobs:work", "write"],
      ["x:admin", "admin"],
      ["x:read", "read"],
      ["read", "write"],
      ["a:b:read", "read"],
      [":read", "read"],
      ["x:ADMIN", "write"],
    ]);
  });
});

describe("roleAllowsScope", () => {
  it("lets admin use every scope, member read and write, viewer read, any other role none", () => {
    const allowed = (role: string) => SCOPES.filter((scope) => roleAllowsScope(role, scope));
    expect(allowed("admin")).toEqual(SCOPES);
    expect(allowed("member")).toEqual([
      "jobs:read",
      "jobs:write",
      "jobs:work",
      "x:read",
      "read",
      "a:b:read",
      ":read",
      "x:ADMIN",
    ]);
    expect(allowed("viewer")).toEqual(["jobs:read", "x:read", "a:b:read", ":read"]);
    expect(allowed("nobody")).toEqual([]);
    expect(allowed("Admin")).toEqual([]);
    expect(allowed("")).toEqual([]);
  });
});

describe("scopesWithinRole", () => {
  it("keeps the allowed scopes in their stored order", () => {
    const stored = ["x:admin", "jobs:write", "b:read", "jobs:work", "a:read"];
    expect(scopesWithinRole("viewer", stored)).toEqual(["b:read", "a:read"]);
    expect(scopesWithinRole("member", stored)).toEqual(["jobs:write", "b:read", "jobs:work", "a:read"]);
    expect(scopesWithinRole("admin", stored)).toEqual(stored);
  });

  it("gives an unknown role nothing, and returns a new array", () => {
    const stored = ["jobs:read", "jobs:write"];
    expect(scopesWithinRole("nobody", stored)).toEqual([]);
    expect(scopesWithinRole("owner", stored)).toEqual([]);
    expect(scopesWithinRole("member", [])).toEqual([]);
    const kept = scopesWithinRole("admin", stored);
    expect(kept).toEqual(stored);
    expect(kept).not.toBe(stored);
  });

  it("grants nothing for a stored element that is not a string, for any role", () => {
    for (const role of ["viewer", "member", "admin"]) {
      expect(scopesWithinRole(role, [null, "jobs:read"])).toEqual(["jobs:read"]);
    }
  });
});

describe("roleAllowsScope against keygate.role_allows_scope", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("agrees with the SQL function for every role and scope", async () => {
    const pairs = ROLES.flatMap((role) => SCOPES.map((scope) => ({ role, scope })));
    const sql: { role: string; scope: string; allowed: boolean }[] = [];
    for (const { role, scope } of pairs) {
      const { rows } = await database.admin.query<{ allowed: boolean }>(
        "select keygate.role_allows_scope($1, $2) as allowed",
        [role, scope],
      );
      sql.push({ role, scope, allowed: rows[0].allowed });
    }
    expect(pairs.map(({ role, scope }) => ({ role, scope, allowed: roleAllowsScope(role, scope) }))).toEqual(sql);
    // Both answers are real booleans, and the table is not trivially uniform.
    expect(new Set(sql.map((r) => r.allowed))).toEqual(new Set([true, false]));
  });
});
