/** The `jobs` function (and so `withApiKey`) through the real Deno server: submit, read, refusals. */
import { FunctionsHttpError } from "@supabase/supabase-js";
import { beforeAll, describe, expect, it } from "vitest";
import { runBackendJob } from "../../examples/backend-job.ts";
import { call } from "../helpers/call.ts";
import { createUser } from "../helpers/database.ts";
import { insertKey } from "../helpers/keys.ts";
import { useStack } from "../helpers/stack.ts";

let alice: { id: string; key: string; keyId: string };
let bob: { id: string; key: string };

const stack = useStack();
beforeAll(async () => {
  const a = await createUser(stack.admin, { role: "member" });
  const b = await createUser(stack.admin, { role: "member" });
  const ak = await insertKey(stack.admin, a.id);
  alice = { id: a.id, key: ak.key, keyId: ak.id };
  bob = { id: b.id, key: (await insertKey(stack.admin, b.id)).key };
});

const jobs = (path: string, key: string | null, init: RequestInit & { json?: unknown } = {}) =>
  call(stack.url, path, {
    ...init,
    headers: { ...(key ? { "x-api-key": key } : {}), ...(init.headers as Record<string, string>) },
  });

describe("jobs", () => {
  it("queues a job for the key's owner, recording the key, and reads it back", async () => {
    const res = await jobs("jobs", alice.key, {
      method: "POST",
      json: { type: "report.generate", payload: { month: "2026-11" } },
    });
    expect(res.status).toBe(202);
    expect(Object.keys(res.body).sort()).toEqual(["created_at", "id", "status"]);
    expect(res.body.status).toBe("queued");
    const { rows } = await stack.admin.query(
      "select user_id, api_key_id, type, payload from public.jobs where id = $1",
      [res.body.id],
    );
    expect(rows[0]).toEqual({
      user_id: alice.id,
      api_key_id: alice.keyId,
      type: "report.generate",
      payload: { month: "2026-11" },
    });

    const one = await jobs(`jobs/${res.body.id}`, alice.key);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      id: res.body.id,
      type: "report.generate",
      status: "queued",
      payload: { month: "2026-11" },
      created_by_key_id: alice.keyId,
      claimed_by_key_id: null,
      attempts: 0,
    });
    const list = await jobs("jobs", alice.key);
    expect(list.body.jobs.map((j: { id: string }) => j.id)).toContain(res.body.id);
  });

  it("keeps a job invisible to another user's key", async () => {
    const { body: job } = await jobs("jobs", alice.key, { method: "POST", json: { type: "secret" } });
    const one = await jobs(`jobs/${job.id}`, bob.key);
    expect([one.status, one.body.error.code]).toEqual([404, "not_found"]);
    const list = await jobs("jobs", bob.key);
    expect(list.status).toBe(200);
    expect(list.body.jobs.map((j: { id: string }) => j.id)).not.toContain(job.id);
  });

  it("lists newest first and honours limit", async () => {
    const user = await createUser(stack.admin, { role: "member" });
    const { key } = await insertKey(stack.admin, user.id);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await jobs("jobs", key, { method: "POST", json: { type: `t${i}` } })).body.id);
    expect((await jobs("jobs?limit=2", key)).body.jobs.map((j: { id: string }) => j.id)).toEqual([ids[2], ids[1]]);
    for (const limit of ["0", "101", "x", "1.5"]) expect((await jobs(`jobs?limit=${limit}`, key)).status).toBe(400);
  });

  it("answers 403 insufficient_scope to a key without the route's scope", async () => {
    const user = await createUser(stack.admin, { role: "member" });
    const readOnly = await insertKey(stack.admin, user.id, { scopes: ["jobs:read"] });
    const writeOnly = await insertKey(stack.admin, user.id, { scopes: ["jobs:write"] });
    const post = await jobs("jobs", readOnly.key, { method: "POST", json: { type: "x" } });
    expect([post.status, post.body.error.code]).toEqual([403, "insufficient_scope"]);
    expect(post.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    const get = await jobs("jobs", writeOnly.key);
    expect([get.status, get.body.error.code]).toEqual([403, "insufficient_scope"]);
    const getOne = await jobs(`jobs/${crypto.randomUUID()}`, writeOnly.key);
    expect(getOne.status).toBe(403);
    expect(
      Number((await stack.admin.query("select count(*) from public.jobs where user_id = $1", [user.id])).rows[0].count),
    ).toBe(0);
  });

  it("answers 401 with one message to every bad key on every route, and 404 to a path with no route", async () => {
    const revoked = await insertKey(stack.admin, alice.id);
    await stack.admin.query("update public.api_keys set revoked_at = now() where id = $1", [revoked.id]);
    const bodies = [];
    for (const key of [null, "nope", revoked.key]) {
      for (const [path, method] of [
        ["jobs", "POST"],
        ["jobs", "GET"],
        [`jobs/${crypto.randomUUID()}`, "GET"],
        [`jobs/${crypto.randomUUID()}/cancel`, "POST"],
      ]) {
        const res = await jobs(path, key, { method, json: method === "POST" ? { type: "x" } : undefined });
        expect(res.status).toBe(401);
        expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="keygate"/);
        bodies.push(JSON.stringify(res.body));
      }
    }
    expect(new Set(bodies).size).toBe(1);
    // The route table is public: an unknown path says so whatever the key, without a key lookup.
    for (const key of [null, "nope", alice.key]) expect((await jobs("jobs/a/b", key)).status).toBe(404);
  });

  it("answers 404 to a job id that is not a uuid or not known, and 405 to other methods", async () => {
    for (const id of ["1", "not-a-uuid", crypto.randomUUID()])
      expect((await jobs(`jobs/${id}`, alice.key)).status).toBe(404);
    expect((await jobs("jobs/x/y", alice.key)).status).toBe(404);
    expect((await jobs("jobs", alice.key, { method: "DELETE" })).status).toBe(405);
  });

  it("refuses bad bodies: 400, 415, 413, and creates nothing", async () => {
    const user = await createUser(stack.admin, { role: "member" });
    const { key } = await insertKey(stack.admin, user.id);
    for (const json of [
      {},
      { type: "" },
      { type: "has space" },
      { type: "x".repeat(65) },
      { type: "x", payload: [1] },
      { type: "x", payload: "s" },
      { type: "x", extra: 1 },
    ]) {
      expect((await jobs("jobs", key, { method: "POST", json })).status, JSON.stringify(json)).toBe(400);
    }
    expect(
      (await jobs("jobs", key, { method: "POST", body: "{", headers: { "content-type": "application/json" } })).status,
    ).toBe(400);
    expect(
      (
        await jobs("jobs", key, {
          method: "POST",
          body: "type=x",
          headers: { "content-type": "application/x-www-form-urlencoded" },
        })
      ).status,
    ).toBe(415);
    const big = await jobs("jobs", key, {
      method: "POST",
      json: { type: "x", payload: { blob: "y".repeat(17 * 1024) } },
    });
    expect([big.status, big.body.error.code]).toEqual([413, "payload_too_large"]);
    expect(
      Number((await stack.admin.query("select count(*) from public.jobs where user_id = $1", [user.id])).rows[0].count),
    ).toBe(0);
  });

  it("grants browsers no CORS by default", async () => {
    const pre = await fetch(`${stack.url}/functions/v1/jobs`, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-api-key, content-type",
      },
    });
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    const res = await jobs("jobs", alice.key, { headers: { origin: "https://app.example" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("the supabase-js example (examples/backend-job.ts)", () => {
  it("submits and reads a job with functions.invoke and x-api-key", async () => {
    const run = await runBackendJob({
      url: stack.url,
      anonKey: "anon-key-placeholder",
      apiKey: alice.key,
      type: "report.generate",
      payload: { month: "2026-11" },
    });
    expect(run.queued.status).toBe("queued");
    expect(run.job).toMatchObject({
      id: run.queued.id,
      type: "report.generate",
      status: "queued",
      payload: { month: "2026-11" },
    });
    expect(run.recent.jobs.map((j) => j.id)).toContain(run.queued.id);
  });

  it("surfaces a refused key as a FunctionsHttpError with the 401 response", async () => {
    const err = await runBackendJob({
      url: stack.url,
      anonKey: "anon-key-placeholder",
      apiKey: "kg_wrong",
      type: "x",
    }).catch((e) => e);
    expect(err).toBeInstanceOf(FunctionsHttpError);
    expect(err.context.status).toBe(401);
  });
});
