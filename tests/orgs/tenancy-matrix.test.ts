/**
 * The tenancy matrix: every role of organization A against every route of
 * organization B (and against B's rows read directly as `authenticated`, the
 * Data API's path) must see and change nothing of B: 404 for every route,
 * no row through RLS, and B's state the same afterwards. Beside it, the
 * read routes of A itself answer each role of A as its role allows, so the
 * matrix cannot pass by refusing everyone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRunner, type SqlRunner } from "../helpers/rls.ts";
import type { SignedInUser } from "../helpers/session.ts";
import { useStack } from "../helpers/stack.ts";
import { orgPeople } from "./helpers.ts";

const stack = useStack();
const { person, as, orgOf, join } = orgPeople(stack);

const ROLES = ["owner", "admin", "member"] as const;
type Role = (typeof ROLES)[number];

interface Tenant {
  id: string;
  people: Record<Role, SignedInUser>;
  keyId: string;
  key: string;
  invitationId: string;
  jobId: string;
}

async function tenant(name: string): Promise<Tenant> {
  const owner = await person();
  const admin = await person();
  const member = await person();
  const id = await orgOf(owner, name);
  await join(owner, id, admin, "admin");
  await join(owner, id, member, "member");
  const made = await as(member, "api-keys", { method: "POST", json: { org_id: id, name: `${name} key` } });
  expect(made.status).toBe(201);
  const invited = await as(owner, `orgs/${id}/invitations`, {
    method: "POST",
    json: { email: `pending-${Date.now()}@example.test` },
  });
  expect(invited.status).toBe(201);
  const job = await stack.call("jobs", {
    method: "POST",
    headers: { "x-api-key": made.body.key },
    json: { type: "t" },
  });
  expect(job.status).toBe(202);
  return {
    jobId: job.body.id,
    id,
    people: { owner, admin, member },
    keyId: made.body.id,
    key: made.body.key,
    invitationId: invited.body.id,
  };
}

/** Every route that names an organization or one of its things, as [method, path, body]. */
function routes(t: Tenant): [string, string, unknown?][] {
  const someone = t.people.member.id;
  return [
    ["GET", `orgs/${t.id}`],
    ["PATCH", `orgs/${t.id}`, { name: "Taken over" }],
    ["POST", `orgs/${t.id}/deactivate`],
    ["GET", `orgs/${t.id}/members`],
    ["PATCH", `orgs/${t.id}/members/${someone}`, { role: "admin" }],
    ["DELETE", `orgs/${t.id}/members/${someone}`],
    ["POST", `orgs/${t.id}/leave`],
    ["POST", `orgs/${t.id}/transfer`, { user_id: someone }],
    ["GET", `orgs/${t.id}/invitations`],
    ["POST", `orgs/${t.id}/invitations`, { email: "intruder@example.test", role: "admin" }],
    ["DELETE", `orgs/${t.id}/invitations/${t.invitationId}`],
    ["GET", `orgs/${t.id}/audit`],
    ["GET", `api-keys?org_id=${t.id}`],
    ["GET", `api-keys?org_id=${t.id}&created_by=former_members`],
    ["POST", "api-keys", { org_id: t.id, name: "intruder" }],
    ["POST", `api-keys/${t.keyId}/rotate`, { grace_seconds: 0 }],
    ["DELETE", `api-keys/${t.keyId}`],
  ];
}

/** Everything of an organization a route could change, for before-and-after comparison. */
async function stateOf(orgId: string) {
  const one = async (sql: string) => (await stack.admin.query(sql, [orgId])).rows;
  return {
    org: await one("select name, slug, deactivated_at from public.organizations where id = $1"),
    members: await one("select user_id, role from public.organization_members where org_id = $1 order by user_id"),
    invitations: await one(
      "select id, revoked_at, accepted_at from public.organization_invitations where org_id = $1 order by id",
    ),
    keys: await one("select id, revoked_at from public.api_keys where org_id = $1 order by id"),
  };
}

describe("tenancy matrix", () => {
  let a: Tenant;
  let b: Tenant;
  let runner: SqlRunner;

  beforeAll(async () => {
    a = await tenant("Alpha");
    b = await tenant("Bravo");
    runner = await connectRunner(stack.database.url);
  }, 60_000);
  afterAll(async () => {
    await runner?.end();
  });

  it.each(ROLES)("A's %s gets 404 for every route of B, and B is unchanged", async (role) => {
    const before = await stateOf(b.id);
    const cells: string[] = [];
    for (const [method, path, json] of routes(b)) {
      const res = await as(a.people[role], path, { method, ...(json === undefined ? {} : { json }) });
      cells.push(`${method} ${path.replace(b.id, "<B>")} -> ${res.status}`);
      if (res.status !== 404) continue;
      expect(res.body.error.code).toBe("not_found");
    }
    expect(cells.filter((cell) => !cell.endsWith("-> 404"))).toEqual([]);
    expect(await stateOf(b.id)).toEqual(before);
    expect((await stack.call("verify-key", { headers: { "x-api-key": b.key } })).status).toBe(200);
  });

  it.each(ROLES)("A's %s reads no row of B directly as authenticated", async (role) => {
    const claims = { sub: a.people[role].id, role: "authenticated" };
    for (const [table, column] of [
      ["organizations", "id"],
      ["organization_members", "org_id"],
      ["organization_invitations", "org_id"],
      ["api_keys", "org_id"],
      ["jobs", "org_id"],
    ] as const) {
      const mine = await runner.as(
        "authenticated",
        claims,
        `select count(*)::int as n from public.${table} where ${column} = $1`,
        [a.id],
      );
      const theirs = await runner.as(
        "authenticated",
        claims,
        `select count(*)::int as n from public.${table} where ${column} = $1`,
        [b.id],
      );
      expect(theirs, `${table} of B`).toEqual({ ok: true, rows: [{ n: 0 }], rowCount: 1 });
      // The same query finds A's rows, where the role may read them: the cell can fail.
      const readsOwn = table !== "organization_invitations" || role !== "member";
      expect(mine.ok && Number(mine.rows[0]?.n) > 0, `${table} of A`).toBe(readsOwn);
    }
  });

  it("A's key gets nothing of B's queue, and B's job stays as it was", async () => {
    const before = (await stack.admin.query("select status, attempts from public.jobs where id = $1", [b.jobId])).rows;
    const key = { "x-api-key": a.key };
    const post = (path: string, json: unknown = {}) => stack.call(path, { method: "POST", headers: key, json });
    const seen = {
      get: (await stack.call(`jobs/${b.jobId}`, { headers: key })).status,
      list: (await stack.call("jobs", { headers: key })).body.jobs.map((j: { id: string }) => j.id),
      heartbeat: (await post(`jobs/${b.jobId}/heartbeat`)).status,
      complete: (await post(`jobs/${b.jobId}/complete`)).status,
      fail: (await post(`jobs/${b.jobId}/fail`, { error: "x" })).status,
      cancel: (await post(`jobs/${b.jobId}/cancel`)).status,
      claim: (await post("jobs/claim")).body.jobs.map((j: { id: string }) => j.id),
    };
    expect(seen).toEqual({
      get: 404,
      list: [a.jobId],
      heartbeat: 404,
      complete: 404,
      fail: 404,
      cancel: 404,
      claim: [a.jobId],
    });
    expect((await stack.admin.query("select status, attempts from public.jobs where id = $1", [b.jobId])).rows).toEqual(
      before,
    );
  });

  it.each(ROLES)("A's %s reads A's routes as the role allows", async (role) => {
    const expected: Record<string, number> = {
      [`orgs/${a.id}`]: 200,
      [`orgs/${a.id}/members`]: 200,
      [`orgs/${a.id}/invitations`]: role === "member" ? 403 : 200,
      [`orgs/${a.id}/audit`]: role === "member" ? 403 : 200,
      [`api-keys?org_id=${a.id}`]: 200,
    };
    const seen: Record<string, number> = {};
    for (const path of Object.keys(expected)) seen[path] = (await as(a.people[role], path)).status;
    expect(seen).toEqual(expected);
  });
});
