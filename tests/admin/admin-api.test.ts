/**
 * The `admin` function through the real Deno server and a fresh database:
 * every route, every refusal (no session, no capability, CSRF, bad input,
 * the last admin), and what the changes do to sessions and keys.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { call, until } from "../helpers/call.ts";
import { insertKey } from "../helpers/keys.ts";
import { asUser, createSignedInUser, type SignedInUser } from "../helpers/session.ts";
import { useStack } from "../helpers/stack.ts";

/** The revocation bound docs/security.md states: the verification cache's lifetime (default 5 s). */
const CACHE_BOUND_MS = 5000;

let admin: SignedInUser;

const stack = useStack({ env: { API_KEY_CREATE_PER_MINUTE: "1000" } });
beforeAll(async () => {
  admin = await createSignedInUser(stack.admin, { role: "admin", email: `root-${Date.now()}@example.test` });
});

const as = (user: SignedInUser, path: string, init: RequestInit & { json?: unknown } = {}) =>
  call(stack.url, path, asUser(user, stack.url, init));
const verify = (key: string) => call(stack.url, "verify-key", { headers: { "x-api-key": key } });
const sessionOf = (user: SignedInUser) => call(stack.url, "auth/session", { headers: { cookie: user.cookie } });

describe("access", () => {
  it("refuses every route without a session with 401", async () => {
    const id = crypto.randomUUID();
    const routes: [string, string][] = [
      ["GET", "admin/me"],
      ["GET", "admin/users"],
      ["GET", `admin/users/${id}`],
      ["PATCH", `admin/users/${id}`],
      ["POST", `admin/users/${id}/deactivate`],
      ["POST", `admin/users/${id}/reactivate`],
      ["DELETE", `admin/keys/${id}`],
      ["GET", "admin/audit"],
    ];
    for (const [method, path] of routes) {
      const res = await call(stack.url, path, { method, headers: { origin: stack.url } });
      expect([res.status, res.body.error.code], `${method} ${path}`).toEqual([401, "unauthorized"]);
    }
  });

  it("refuses every route to a user without the capability with 403, and changes nothing", async () => {
    const plain = await createSignedInUser(stack.admin, { role: "member" });
    const other = await createSignedInUser(stack.admin, { role: "member" });
    const { id: keyId, key } = await insertKey(stack.admin, other.id);
    const attempts: [string, string, unknown?][] = [
      ["GET", "admin/users"],
      ["GET", `admin/users/${other.id}`],
      ["PATCH", `admin/users/${other.id}`, { role: "viewer" }],
      ["PATCH", `admin/users/${plain.id}`, { capabilities: ["users.read"] }],
      ["POST", `admin/users/${other.id}/deactivate`],
      ["POST", `admin/users/${other.id}/reactivate`],
      ["DELETE", `admin/keys/${keyId}`],
      ["GET", "admin/audit"],
    ];
    for (const [method, path, json] of attempts) {
      const res = await as(plain, path, { method, json });
      expect([res.status, res.body.error.code], `${method} ${path}`).toEqual([403, "forbidden"]);
      expect(res.body.error.message).toMatch(/needs the capability/);
    }
    expect((await as(plain, "admin/me")).body).toEqual({ capabilities: [] });
    expect((await sessionOf(other)).body.role).toBe("member");
    expect((await verify(key)).status).toBe(200);
  });

  it("gives each capability its own power only", async () => {
    const reader = await createSignedInUser(stack.admin, { capabilities: ["users.read"] });
    const other = await createSignedInUser(stack.admin);
    expect((await as(reader, "admin/me")).body).toEqual({ capabilities: ["users.read"] });
    expect((await as(reader, `admin/users/${other.id}`)).status).toBe(200);
    expect((await as(reader, "admin/audit")).status).toBe(403);
    expect((await as(reader, `admin/users/${other.id}/deactivate`, { method: "POST" })).status).toBe(403);

    const manager = await createSignedInUser(stack.admin, { capabilities: ["users.manage"] });
    expect((await as(manager, `admin/users/${other.id}`, { method: "PATCH", json: { role: "viewer" } })).status).toBe(
      200,
    );
    // Making an admin, acting on an admin, or granting capabilities needs capabilities.grant.
    for (const json of [{ role: "admin" }, { capabilities: ["audit.read"] }]) {
      const res = await as(manager, `admin/users/${other.id}`, { method: "PATCH", json });
      expect([res.status, res.body.error.message]).toEqual([403, "This needs the capability capabilities.grant."]);
    }
    const res = await as(manager, `admin/users/${admin.id}/deactivate`, { method: "POST" });
    expect([res.status, res.body.error.code]).toEqual([403, "forbidden"]);
    expect((await sessionOf(admin)).status).toBe(200);
  });

  it("refuses a cookie change without an allowed Origin (CSRF) and lets bearer-less GETs through", async () => {
    const target = await createSignedInUser(stack.admin);
    const attempts: Record<string, string>[] = [
      { cookie: admin.cookie },
      { cookie: admin.cookie, origin: "https://evil.example" },
    ];
    for (const headers of attempts) {
      const res = await call(stack.url, `admin/users/${target.id}/deactivate`, { method: "POST", headers });
      expect([res.status, res.body.error.code]).toEqual([403, "csrf_origin_mismatch"]);
    }
    expect((await sessionOf(target)).status).toBe(200);
    expect((await call(stack.url, "admin/users", { headers: { cookie: admin.cookie } })).status).toBe(200);
  });

  it("answers the dashboard's preflight with the admin methods", async () => {
    const res = await fetch(`${stack.url}/functions/v1/admin/users/x`, {
      method: "OPTIONS",
      headers: { origin: stack.url, "access-control-request-method": "PATCH" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(stack.url);
    expect(res.headers.get("access-control-allow-methods")).toContain("PATCH");
  });
});

describe("GET /admin/users", () => {
  it("searches by email or name and pages with a cursor", async () => {
    const tag = `srch${Date.now().toString(36)}`;
    const made = [];
    for (const n of [1, 2, 3]) made.push(await createSignedInUser(stack.admin, { email: `${tag}-${n}@example.test` }));
    await stack.admin.query("update public.users set name = $1 where id = $2", [
      `Named ${tag.toUpperCase()}`,
      made[0].id,
    ]);
    await insertKey(stack.admin, made[0].id);

    const first = await as(admin, `admin/users?query=${tag}&limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.users.map((u: { email: string }) => u.email)).toEqual([
      `${tag}-1@example.test`,
      `${tag}-2@example.test`,
    ]);
    expect(first.body.users[0]).toMatchObject({
      id: made[0].id,
      role: "member",
      capabilities: [],
      is_active: true,
      active_keys: 1,
      last_login_at: null,
    });
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await as(admin, `admin/users?query=${tag}&limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body).toEqual({
      users: [expect.objectContaining({ email: `${tag}-3@example.test` })],
      next_cursor: null,
    });

    const byName = await as(admin, `admin/users?query=${encodeURIComponent(`named ${tag}`)}`);
    expect(byName.body.users.map((u: { id: string }) => u.id)).toEqual([made[0].id]);
    const wildcard = await as(admin, `admin/users?query=${encodeURIComponent("%_")}`);
    expect(wildcard.body.users).toEqual([]);
  });

  it("refuses a bad limit, cursor or unknown parameter with 400", async () => {
    for (const q of ["limit=0", "limit=101", "limit=x", "cursor=nope!", `cursor=${btoa("[1,2]")}`, "role=admin"]) {
      const res = await as(admin, `admin/users?${q}`);
      expect([res.status, res.body.error.code], q).toEqual([400, "validation_failed"]);
    }
  });
});

describe("GET /admin/users/<id>", () => {
  it("shows a user with their keys, never a key or a hash", async () => {
    const user = await createSignedInUser(stack.admin, { capabilities: ["audit.read"] });
    const { id: keyId, key } = await insertKey(stack.admin, user.id, { name: "nightly" });
    const res = await as(admin, `admin/users/${user.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body.user).toMatchObject({
      id: user.id,
      email: user.email,
      capabilities: ["audit.read"],
      active_keys: 1,
    });
    expect(res.body.keys).toEqual([
      expect.objectContaining({ id: keyId, name: "nightly", scopes: ["jobs:read", "jobs:write"] }),
    ]);
    expect(Object.keys(res.body.keys[0]).sort()).toEqual([
      "created_at",
      "expires_at",
      "id",
      "last_used_at",
      "name",
      "revoked_at",
      "scopes",
      "start",
    ]);
    expect(JSON.stringify(res.body)).not.toContain(key.slice(10));
  });

  it("answers 404 for an unknown user or a malformed id", async () => {
    expect((await as(admin, `admin/users/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await as(admin, "admin/users/not-a-uuid")).status).toBe(404);
  });
});

describe("PATCH /admin/users/<id>", () => {
  it("changes role and capabilities and records both", async () => {
    const user = await createSignedInUser(stack.admin, { role: "viewer" });
    const res = await as(admin, `admin/users/${user.id}`, {
      method: "PATCH",
      json: { role: "member", capabilities: ["audit.read", "users.read", "audit.read"] },
    });
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ role: "member", capabilities: ["users.read", "audit.read"] });
    expect((await sessionOf(user)).body.role).toBe("member");
    expect((await as(user, "admin/me")).body.capabilities).toEqual(["users.read", "audit.read"]);
    const { rows } = await stack.admin.query(
      "select action, actor_id, details from public.audit_events where target_user_id = $1 order by id",
      [user.id],
    );
    expect(rows).toEqual([
      { action: "user.role_changed", actor_id: admin.id, details: { from: "viewer", to: "member" } },
      {
        action: "user.capabilities_changed",
        actor_id: admin.id,
        details: { from: [], to: ["audit.read", "users.read"] },
      },
    ]);
  });

  it("refuses unknown roles, unknown capabilities and empty or malformed bodies with 400", async () => {
    const user = await createSignedInUser(stack.admin);
    const bodies = [
      {},
      { role: "owner" },
      { capabilities: ["platform.use_break_glass"] },
      { capabilities: "users.read" },
      { rolе: "admin" },
    ];
    for (const json of bodies) {
      const res = await as(admin, `admin/users/${user.id}`, { method: "PATCH", json });
      expect([res.status, res.body.error.code], JSON.stringify(json)).toEqual([400, "validation_failed"]);
    }
    expect(
      (await as(admin, `admin/users/${crypto.randomUUID()}`, { method: "PATCH", json: { role: "viewer" } })).status,
    ).toBe(404);
    expect((await sessionOf(user)).body.role).toBe("member");
  });

  it("narrows a demoted user's keys within the cache bound, and restores them when raised again", async () => {
    const user = await createSignedInUser(stack.admin, { role: "member" });
    const { key } = await insertKey(stack.admin, user.id, { scopes: ["jobs:read", "jobs:write"] });
    const submit = () =>
      call(stack.url, "jobs", { method: "POST", headers: { "x-api-key": key }, json: { type: "report" } });
    expect((await submit()).status).toBe(202);
    expect((await verify(key)).body.scopes).toEqual(["jobs:read", "jobs:write"]);

    expect((await as(admin, `admin/users/${user.id}`, { method: "PATCH", json: { role: "viewer" } })).status).toBe(200);
    const refused = await until(submit, (r) => r.status === 403, CACHE_BOUND_MS + 1000);
    expect([refused.status, refused.body.error.code]).toEqual([403, "insufficient_scope"]);
    // verify-key keeps its own cache: the same bound.
    const narrowed = await until(
      () => verify(key),
      (r) => r.body.scopes?.length === 1,
      CACHE_BOUND_MS + 1000,
    );
    expect(narrowed.body.scopes).toEqual(["jobs:read"]);
    expect((await call(stack.url, "jobs", { headers: { "x-api-key": key } })).status).toBe(200);

    expect((await as(admin, `admin/users/${user.id}`, { method: "PATCH", json: { role: "member" } })).status).toBe(200);
    expect((await until(submit, (r) => r.status === 202, CACHE_BOUND_MS + 1000)).status).toBe(202);
  });
});

describe("the last active admin", () => {
  it("cannot be demoted or deactivated (409), but can once another admin exists", async () => {
    // Any other admins (from other tests) step aside, so `admin` is the last one.
    await stack.admin.query("update public.users set role = 'member' where role = 'admin' and id <> $1", [admin.id]);
    for (const [path, method, json] of [
      [`admin/users/${admin.id}`, "PATCH", { role: "member" }],
      [`admin/users/${admin.id}`, "PATCH", { role: "viewer", capabilities: [] }],
      [`admin/users/${admin.id}/deactivate`, "POST", undefined],
    ] as const) {
      const res = await as(admin, path, { method, json });
      expect([res.status, res.body.error.code], `${method} ${path}`).toEqual([409, "last_admin"]);
    }
    expect((await sessionOf(admin)).body.role).toBe("admin");

    const second = await createSignedInUser(stack.admin, { role: "member" });
    expect((await as(admin, `admin/users/${second.id}`, { method: "PATCH", json: { role: "admin" } })).status).toBe(
      200,
    );
    const demoted = await as(second, `admin/users/${admin.id}`, { method: "PATCH", json: { role: "member" } });
    expect(demoted.status).toBe(200);
    const last = await as(second, `admin/users/${second.id}/deactivate`, { method: "POST" });
    expect([last.status, last.body.error.code]).toEqual([409, "last_admin"]);
    expect((await as(second, `admin/users/${admin.id}`, { method: "PATCH", json: { role: "admin" } })).status).toBe(
      200,
    );
  });
});

describe("POST /admin/users/<id>/deactivate and /reactivate", () => {
  it("ends every session at once, stops keys within the bound, and reactivation brings back keys but no session", async () => {
    const user = await createSignedInUser(stack.admin);
    const { key } = await insertKey(stack.admin, user.id);
    expect((await sessionOf(user)).status).toBe(200);
    expect((await verify(key)).status).toBe(200); // cached now

    const at = Date.now();
    const res = await as(admin, `admin/users/${user.id}/deactivate`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ id: user.id, is_active: false });
    expect((await sessionOf(user)).status).toBe(401);
    const refused = await until(
      () => verify(key),
      (r) => r.status === 401,
      CACHE_BOUND_MS + 1000,
    );
    expect(refused.status).toBe(401);
    expect(Date.now() - at).toBeLessThanOrEqual(CACHE_BOUND_MS + 1000);

    const back = await as(admin, `admin/users/${user.id}/reactivate`, { method: "POST" });
    expect(back.body.user.is_active).toBe(true);
    expect((await sessionOf(user)).status).toBe(401);
    // The isolate remembers a key found not live for the same bound, so it works again within it.
    expect(
      (
        await until(
          () => verify(key),
          (r) => r.status === 200,
          CACHE_BOUND_MS + 1000,
        )
      ).status,
    ).toBe(200);
    const { rows } = await stack.admin.query(
      "select action from public.audit_events where target_user_id = $1 order by id",
      [user.id],
    );
    expect(rows.map((r) => r.action)).toEqual(["user.deactivated", "user.reactivated"]);
  });

  it("answers 404 for an unknown user", async () => {
    expect((await as(admin, `admin/users/${crypto.randomUUID()}/deactivate`, { method: "POST" })).status).toBe(404);
  });
});

describe("DELETE /admin/keys/<id>", () => {
  it("revokes any user's key within the bound and records who did it", async () => {
    const revoker = await createSignedInUser(stack.admin, { capabilities: ["keys.revoke_any"] });
    const owner = await createSignedInUser(stack.admin);
    const { id, key } = await insertKey(stack.admin, owner.id);
    expect((await verify(key)).status).toBe(200);
    const res = await as(revoker, `admin/keys/${id}`, { method: "DELETE" });
    expect(res.status).toBe(204);
    expect(
      (
        await until(
          () => verify(key),
          (r) => r.status === 401,
          CACHE_BOUND_MS + 1000,
        )
      ).status,
    ).toBe(401);
    expect((await as(revoker, `admin/keys/${id}`, { method: "DELETE" })).status).toBe(204);
    expect((await as(revoker, `admin/keys/${crypto.randomUUID()}`, { method: "DELETE" })).status).toBe(404);
    const { rows } = await stack.admin.query(
      "select actor_id, target_user_id, details from public.audit_events where target_key_id = $1",
      [id],
    );
    expect(rows).toEqual([{ actor_id: revoker.id, target_user_id: owner.id, details: { name: "test" } }]);
  });
});

describe("GET /admin/audit", () => {
  it("lists everyone's events newest first, with filters and a cursor", async () => {
    const auditor = await createSignedInUser(stack.admin, { capabilities: ["audit.read"] });
    const target = await createSignedInUser(stack.admin);
    for (const role of ["viewer", "member", "viewer"]) {
      await as(admin, `admin/users/${target.id}`, { method: "PATCH", json: { role } });
    }
    const first = await as(auditor, `admin/audit?target=${target.id}&limit=2`, {
      headers: { "user-agent": "audit-test", "x-forwarded-for": "203.0.113.9" },
    });
    expect(first.status).toBe(200);
    expect(first.body.events).toHaveLength(2);
    expect(first.body.events[0]).toMatchObject({
      action: "user.role_changed",
      outcome: "success",
      actor: { id: admin.id, email: admin.email },
      target: { id: target.id, email: target.email },
      details: { from: "member", to: "viewer" },
    });
    const second = await as(auditor, `admin/audit?target=${target.id}&limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.events.map((e: { details: unknown }) => e.details)).toEqual([{ from: "member", to: "viewer" }]);
    expect(second.body.next_cursor).toBeNull();
    const ids = [...first.body.events, ...second.body.events].map((e: { id: string }) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    const byAction = await as(auditor, `admin/audit?action=user.role_changed&actor=${admin.id}&outcome=success`);
    expect(byAction.body.events.length).toBeGreaterThanOrEqual(3);
    expect(byAction.body.events.every((e: { action: string }) => e.action === "user.role_changed")).toBe(true);
    for (const q of ["limit=0", "outcome=maybe", "actor=me", "cursor=-1", "action=DROP%20TABLE", "secret=1"]) {
      expect((await as(auditor, `admin/audit?${q}`)).status, q).toBe(400);
    }
  });

  it("records the client address (the TCP peer, not a header it sent) and user agent of a change", async () => {
    const target = await createSignedInUser(stack.admin);
    await as(admin, `admin/users/${target.id}/deactivate`, {
      method: "POST",
      headers: { "user-agent": "ops-console/1.0", "x-forwarded-for": "198.51.100.7, 10.0.0.1" },
    });
    const res = await as(admin, `admin/audit?target=${target.id}&action=user.deactivated`);
    expect(res.body.events[0]).toMatchObject({ client_address: "127.0.0.1", user_agent: "ops-console/1.0" });
  });
});

describe("organizations on the admin page", () => {
  async function orgOwnedBy(owner: SignedInUser, name: string): Promise<string> {
    const res = await as(owner, "orgs", { method: "POST", json: { name } });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  it("lists organizations with their members and owners for users.read, narrowed by a query", async () => {
    const owner = await createSignedInUser(stack.admin, { email: `org-owner-${Date.now()}@example.test` });
    const id = await orgOwnedBy(owner, `Zeppelin Works ${Date.now()}`);
    const reader = await createSignedInUser(stack.admin, { capabilities: ["users.read"] });
    const res = await as(reader, "admin/orgs?query=zeppelin");
    expect(res.status).toBe(200);
    expect(res.body.orgs).toEqual([
      expect.objectContaining({ id, members: 1, owners: [owner.email], deactivated_at: null }),
    ]);
    expect((await as(reader, "admin/orgs?query=no-such-org-anywhere")).body.orgs).toEqual([]);
    expect((await as(reader, "admin/orgs?limit=0")).status).toBe(400);
    const nobody = await createSignedInUser(stack.admin);
    expect((await as(nobody, "admin/orgs")).status).toBe(403);
  });

  it("deactivates and reactivates an organization with users.manage, and records both", async () => {
    const owner = await createSignedInUser(stack.admin);
    const id = await orgOwnedBy(owner, "Stoppable");
    const reader = await createSignedInUser(stack.admin, { capabilities: ["users.read"] });
    expect((await as(reader, `admin/orgs/${id}/deactivate`, { method: "POST" })).status).toBe(403);
    const manager = await createSignedInUser(stack.admin, { capabilities: ["users.manage"] });
    expect((await as(manager, `admin/orgs/${id}/deactivate`, { method: "POST" })).status).toBe(204);
    const invite = await as(owner, `orgs/${id}/invitations`, { method: "POST", json: { email: "x@example.test" } });
    expect(invite.body.error.code).toBe("org_inactive");
    expect((await as(manager, `admin/orgs/${id}/deactivate`, { method: "POST" })).status).toBe(204);
    expect((await as(manager, `admin/orgs/${id}/reactivate`, { method: "POST" })).status).toBe(204);
    expect((await as(owner, `orgs/${id}`)).body.deactivated_at).toBeNull();
    expect((await as(manager, `admin/orgs/${crypto.randomUUID()}/deactivate`, { method: "POST" })).status).toBe(404);
    const { rows } = await stack.admin.query(
      "select action, actor_id, reason from public.audit_events where org_id = $1 and action <> 'org.created' order by id",
      [id],
    );
    expect(rows).toEqual([
      { action: "org.deactivated", actor_id: manager.id, reason: "by_platform_admin" },
      { action: "org.reactivated", actor_id: manager.id, reason: "by_platform_admin" },
    ]);
  });
});
