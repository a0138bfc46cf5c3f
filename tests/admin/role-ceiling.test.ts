/**
 * Roles bound keys in `api-keys` (through the real server): a scope above
 * the owner's role is refused at creation and rotation, the default scopes
 * follow the role, and key changes are recorded in the audit log. Also: a
 * deactivated user's session ends for good, whichever path deactivates them.
 */
import { describe, expect, it } from "vitest";
import { call } from "../helpers/call.ts";
import { asUser, createSignedInUser, type SignedInUser } from "../helpers/session.ts";
import { useStack } from "../helpers/stack.ts";

const stack = useStack({ env: { API_KEY_CREATE_PER_MINUTE: "1000" } });

const as = (user: SignedInUser, path: string, init: RequestInit & { json?: unknown } = {}) =>
  call(stack.url, path, asUser(user, stack.url, init));
const events = async (userId: string) =>
  (
    await stack.admin.query(
      "select action, outcome, reason, actor_id, target_key_id, details from public.audit_events where target_user_id = $1 order by id",
      [userId],
    )
  ).rows;

describe("the role ceiling in api-keys", () => {
  it("refuses a viewer a write scope with 403 scope_above_role, creates nothing and records the refusal", async () => {
    const viewer = await createSignedInUser(stack.admin, { role: "viewer" });
    const res = await as(viewer, "api-keys", { method: "POST", json: { scopes: ["jobs:read", "jobs:write"] } });
    expect([res.status, res.body.error.code]).toEqual([403, "scope_above_role"]);
    expect(res.body.error.message).toContain("jobs:write");
    expect(
      (await stack.admin.query("select count(*)::int as n from public.api_keys where user_id = $1", [viewer.id]))
        .rows[0].n,
    ).toBe(0);
    expect(await events(viewer.id)).toEqual([
      {
        action: "key.created",
        outcome: "failure",
        reason: "scope_above_role",
        actor_id: viewer.id,
        target_key_id: null,
        details: { scopes: ["jobs:write"] },
      },
    ]);
  });

  it("gives a viewer's key the read scopes by default, and a member's every scope", async () => {
    const viewer = await createSignedInUser(stack.admin, { role: "viewer" });
    const member = await createSignedInUser(stack.admin, { role: "member" });
    expect((await as(viewer, "api-keys", { method: "POST" })).body.scopes).toEqual(["jobs:read"]);
    expect((await as(viewer, "api-keys", { method: "POST", json: { scopes: ["jobs:read"] } })).status).toBe(201);
    expect((await as(member, "api-keys", { method: "POST" })).body.scopes).toEqual([
      "jobs:read",
      "jobs:write",
      "jobs:work",
    ]);
  });

  it("refuses to rotate a key whose scopes the owner's role no longer allows", async () => {
    const user = await createSignedInUser(stack.admin, { role: "member" });
    const created = await as(user, "api-keys", { method: "POST", json: { scopes: ["jobs:write"] } });
    await stack.admin.query("update public.users set role = 'viewer' where id = $1", [user.id]);
    const res = await as(user, `api-keys/${created.body.id}/rotate`, { method: "POST" });
    expect([res.status, res.body.error.code]).toEqual([403, "scope_above_role"]);
    expect(
      (await stack.admin.query("select count(*)::int as n from public.api_keys where user_id = $1", [user.id])).rows[0]
        .n,
    ).toBe(1);
    // A viewer may still revoke it.
    expect((await as(user, `api-keys/${created.body.id}`, { method: "DELETE" })).status).toBe(204);
  });

  it("records key creation, rotation and revocation with the actor, and never the key", async () => {
    const user = await createSignedInUser(stack.admin, { role: "member" });
    const created = await as(user, "api-keys", {
      method: "POST",
      json: { name: "ci", scopes: ["jobs:read"] },
      headers: { "user-agent": "kg-test" },
    });
    const rotated = await as(user, `api-keys/${created.body.id}/rotate`, {
      method: "POST",
      json: { grace_seconds: 0 },
    });
    expect((await as(user, `api-keys/${rotated.body.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await events(user.id)).toEqual([
      {
        action: "key.created",
        outcome: "success",
        reason: null,
        actor_id: user.id,
        target_key_id: created.body.id,
        details: { name: "ci", scopes: ["jobs:read"] },
      },
      {
        action: "key.rotated",
        outcome: "success",
        reason: null,
        actor_id: user.id,
        target_key_id: rotated.body.id,
        details: { name: "ci", replaces: created.body.id, grace_seconds: 0 },
      },
      {
        action: "key.revoked",
        outcome: "success",
        reason: null,
        actor_id: user.id,
        target_key_id: rotated.body.id,
        details: {},
      },
    ]);
    const all = JSON.stringify((await stack.admin.query("select * from public.audit_events")).rows);
    for (const key of [created.body.key, rotated.body.key]) expect(all).not.toContain(key.slice(3, 20));
    expect(all).not.toContain(user.token);
  });
});

describe("deactivation ends sessions", () => {
  it("a session cookie stops at once and stays dead after reactivation (keygate.set_user_active)", async () => {
    const user = await createSignedInUser(stack.admin);
    const session = () => call(stack.url, "auth/session", { headers: { cookie: user.cookie } });
    expect((await session()).status).toBe(200);
    await stack.admin.query("select keygate.set_user_active($1, false)", [user.id]);
    expect((await session()).status).toBe(401);
    await stack.admin.query("select keygate.set_user_active($1, true)", [user.id]);
    expect((await session()).status).toBe(401);
    expect(
      (await stack.admin.query("select count(*)::int as n from public.sessions where user_id = $1", [user.id])).rows[0]
        .n,
    ).toBe(0);
  });
});
