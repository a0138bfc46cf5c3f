/**
 * An organization's job queue through the real server: a job submitted with
 * an organization's key is the organization's; every key of the organization
 * with `jobs:read` sees it and workers with its `jobs:work` keys claim it,
 * while personal keys (its members' too) and other organizations' keys see
 * and claim none of it; the per-owner limits count the organization as a
 * whole; members read its jobs through RLS, strangers do not.
 */
import { describe, expect, it } from "vitest";
import { connectRunner } from "../helpers/rls.ts";
import type { SignedInUser } from "../helpers/session.ts";
import { useStack } from "../helpers/stack.ts";
import { orgPeople } from "./helpers.ts";

const stack = useStack({ env: { JOBS_MAX_UNFINISHED: "3" } });
const { person, as, orgOf, join } = orgPeople(stack);

async function keyOf(user: SignedInUser, scopes: string[], orgId?: string): Promise<string> {
  const res = await as(user, "api-keys", { method: "POST", json: { scopes, ...(orgId ? { org_id: orgId } : {}) } });
  expect(res.status).toBe(201);
  return res.body.key;
}

const withKey = (key: string, path: string, json?: unknown) =>
  stack.call(path, {
    method: json === undefined ? "GET" : "POST",
    headers: { "x-api-key": key },
    ...(json === undefined ? {} : { json }),
  });

describe("organization jobs", () => {
  it("are the organization's: its keys see and claim them, no personal or foreign key does", async () => {
    const owner = await person();
    const member = await person();
    const orgId = await orgOf(owner);
    await join(owner, orgId, member, "member");
    const outsider = await person();
    const other = await orgOf(outsider, "Other");
    const submitter = await keyOf(member, ["jobs:write"], orgId);
    const reader = await keyOf(owner, ["jobs:read"], orgId);
    const worker = await keyOf(owner, ["jobs:work"], orgId);
    const personal = await keyOf(member, ["jobs:read", "jobs:work"]);
    const foreign = await keyOf(outsider, ["jobs:read", "jobs:work"], other);

    const submitted = await withKey(submitter, "jobs", { type: "report" });
    expect(submitted.status).toBe(202);
    const id = submitted.body.id;
    const [row] = (await stack.admin.query("select user_id, org_id from public.jobs where id = $1", [id])).rows;
    expect(row).toEqual({ user_id: null, org_id: orgId });

    expect((await withKey(reader, `jobs/${id}`)).status).toBe(200);
    expect((await withKey(reader, "jobs")).body.jobs.map((j: { id: string }) => j.id)).toEqual([id]);
    expect((await withKey(personal, `jobs/${id}`)).status).toBe(404);
    expect((await withKey(personal, "jobs")).body.jobs).toEqual([]);
    expect((await withKey(personal, "jobs/claim", {})).body.jobs).toEqual([]);
    expect((await withKey(foreign, `jobs/${id}`)).status).toBe(404);
    expect((await withKey(foreign, "jobs/claim", {})).body.jobs).toEqual([]);

    const claimed = await withKey(worker, "jobs/claim", {});
    expect(claimed.body.jobs.map((j: { id: string }) => j.id)).toEqual([id]);
    expect((await withKey(worker, `jobs/${id}/complete`, { result: { ok: true } })).status).toBe(200);
    expect((await withKey(reader, `jobs/${id}`)).body.status).toBe("succeeded");
  });

  it("counts the cap of unfinished jobs for the organization as a whole, across its keys", async () => {
    const owner = await person();
    const orgId = await orgOf(owner);
    const first = await keyOf(owner, ["jobs:write"], orgId);
    const second = await keyOf(owner, ["jobs:write"], orgId);
    for (const key of [first, second, first]) expect((await withKey(key, "jobs", { type: "cap" })).status).toBe(202);
    const over = await withKey(second, "jobs", { type: "cap" });
    expect([over.status, over.body.error.code]).toEqual([409, "job_limit_reached"]);
    expect(over.body.error.message).toMatch(/^The organization has 3 /);
    // The owner's personal queue is a budget of its own.
    expect((await withKey(await keyOf(owner, ["jobs:write"]), "jobs", { type: "cap" })).status).toBe(202);
  });

  it("members read the organization's jobs directly as authenticated; others do not", async () => {
    const owner = await person();
    const member = await person();
    const stranger = await person();
    const orgId = await orgOf(owner);
    await join(owner, orgId, member, "member");
    const submitted = await withKey(await keyOf(owner, ["jobs:write"], orgId), "jobs", { type: "rls" });
    const runner = await connectRunner(stack.database.url);
    try {
      const read = (user: SignedInUser) =>
        runner.as(
          "authenticated",
          { sub: user.id, role: "authenticated" },
          "select id from public.jobs where id = $1",
          [submitted.body.id],
        );
      expect(await read(member)).toMatchObject({ ok: true, rowCount: 1 });
      expect(await read(stranger)).toMatchObject({ ok: true, rowCount: 0 });
    } finally {
      await runner.end();
    }
  });
});
