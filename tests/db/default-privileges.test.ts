/**
 * A function added to `keygate` later, by a migration that forgets its own
 * `revoke ... from public`, is still not executable by any client role: the
 * default privileges themselves no longer grant EXECUTE to PUBLIC.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { connectRunner, type SqlRunner } from "../helpers/rls.ts";

let database: TestDatabase;
let runner: SqlRunner;

beforeAll(async () => {
  database = await createTestDatabase();
  runner = await connectRunner(database.url);
  // As a later migration would, run by the migration role, with no revoke or grant of its own.
  await runner.admin(
    "create function keygate.added_later() returns integer language sql security definer set search_path = '' as 'select 42'",
  );
  await runner.admin("create function public.added_later_public() returns integer language sql as 'select 7'");
});
afterAll(async () => {
  await runner?.end();
  await database?.drop();
});

describe("default privileges after the migrations", () => {
  it("give neither anon nor authenticated EXECUTE on a new keygate function", async () => {
    for (const role of ["anon", "authenticated"] as const) {
      const [granted] = await runner.admin<{ yes: boolean }>(
        "select has_function_privilege($1, 'keygate.added_later()', 'execute') as yes",
        [role],
      );
      expect(granted.yes, role).toBe(false);
    }
    const called = await runner.as(
      "authenticated",
      { sub: "00000000-0000-0000-0000-000000000001", role: "authenticated" },
      "select keygate.added_later() as n",
    );
    expect(called).toMatchObject({ ok: false, code: "42501" });
  });

  it("grant nothing to PUBLIC on new functions in any schema", async () => {
    const [row] = await runner.admin<{ n: number }>(
      `select count(*)::int as n from pg_default_acl d
        where d.defaclobjtype = 'f' and d.defaclnamespace = 0
          and d.defaclrole = (select oid from pg_roles where rolname = current_user)
          and not exists (select 1 from aclexplode(d.defaclacl) a where a.grantee = 0)`,
    );
    expect(row.n).toBe(1);
  });

  it("leave Supabase's own grants in public alone", async () => {
    const called = await runner.as(
      "authenticated",
      { role: "authenticated" },
      "select public.added_later_public() as n",
    );
    expect(called).toMatchObject({ ok: true, rows: [{ n: 7 }] });
  });
});
