/**
 * The first-admin command (`npm run admin -- ...`, scripts/admin.mjs) against
 * a real migrated database through DATABASE_URL, as an operator runs it.
 */
import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseArgs } from "../../scripts/admin.mjs";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";
import { projectRoot } from "../helpers/server.ts";

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["scripts/admin.mjs", ...args],
      {
        cwd: projectRoot,
        env: { PATH: process.env.PATH, DATABASE_URL: t.url },
        timeout: 30_000,
      },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

const userRow = async (id: string) =>
  (
    await t.admin.query(
      "select role, (select array_agg(capability order by capability) from public.user_capabilities where user_id = $1) as caps from public.users where id = $1",
      [id],
    )
  ).rows[0];

describe("npm run admin", () => {
  it("makes the first admin by email, and records it with no actor", async () => {
    const user = await createUser(t.admin, { role: "viewer", email: `First.Admin-${Date.now()}@Example.test` });
    const res = await run("grant", user.email.toLowerCase(), "admin");
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("role admin");
    expect(await userRow(user.id)).toEqual({ role: "admin", caps: null });
    const { rows } = await t.admin.query(
      "select actor_id, action, user_agent, details from public.audit_events where target_user_id = $1",
      [user.id],
    );
    expect(rows).toEqual([
      {
        actor_id: null,
        action: "user.role_changed",
        user_agent: "keygate admin command",
        details: { from: "viewer", to: "admin" },
      },
    ]);
  });

  it("grants and revokes single capabilities", async () => {
    const user = await createUser(t.admin);
    expect((await run("grant", user.email, "users.read", "audit.read")).code).toBe(0);
    expect(await userRow(user.id)).toEqual({ role: "member", caps: ["audit.read", "users.read"] });
    expect((await run("revoke", user.email, "audit.read")).code).toBe(0);
    expect(await userRow(user.id)).toEqual({ role: "member", caps: ["users.read"] });
    const shown = await run("show", user.email);
    expect(shown.stdout).toContain("capabilities users.read");
  });

  it("refuses to demote the last active admin", async () => {
    await t.admin.query("update public.users set role = 'member' where role = 'admin'");
    const only = await createUser(t.admin, { role: "admin" });
    const res = await run("grant", only.email, "member");
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("last active admin");
    expect((await userRow(only.id)).role).toBe("admin");
  });

  it("says so for an unknown email, and prints the usage for nonsense", async () => {
    const unknown = await run("grant", "nobody@example.test", "admin");
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining("must sign in once first")]);
    const nonsense = await run("grant", "someone@example.test", "root");
    expect(nonsense.code).toBe(2);
    expect(nonsense.stderr).toContain("usage: npm run admin");
  });

  it("parses its arguments strictly", () => {
    expect(parseArgs(["grant", "a@b.c", "admin", "audit.read"])).toEqual({
      verb: "grant",
      email: "a@b.c",
      role: "admin",
      add: ["audit.read"],
      remove: [],
    });
    expect(parseArgs(["grant", "a@b.c", "admin", "viewer"])).toBeNull();
    expect(parseArgs(["revoke", "a@b.c", "admin"])).toBeNull();
    expect(parseArgs(["grant", "not-an-email", "admin"])).toBeNull();
    expect(parseArgs(["grant", "a@b.c"])).toBeNull();
    expect(parseArgs(["drop", "a@b.c", "admin"])).toBeNull();
  });
});
