/**
 * Organization keys through the real server: made by any member, owned by
 * the organization (verify-key names it, never the maker, as the acting
 * principal), kept when their maker leaves, revoked or rotated by owners,
 * admins and their maker only, stopped when the organization is deactivated,
 * and invisible to everyone outside it.
 */
import { describe, expect, it } from "vitest";
import { until } from "../helpers/call.ts";
import type { SignedInUser } from "../helpers/session.ts";
import { useStack } from "../helpers/stack.ts";
import { orgPeople } from "./helpers.ts";

const stack = useStack();
const { person, as, orgOf, join } = orgPeople(stack);

/** The server's cache bound (5 s) and some slack: how long a change may take to reach verification. */
const CACHE_BOUND_MS = 8_000;

const verify = (key: string) => stack.call("verify-key", { headers: { "x-api-key": key } });

async function orgKey(user: SignedInUser, orgId: string, json: Record<string, unknown> = {}) {
  const res = await as(user, "api-keys", { method: "POST", json: { org_id: orgId, name: "backend", ...json } });
  expect(res.status).toBe(201);
  return res.body as { id: string; key: string; org_id: string; created_by: string; scopes: string[] };
}

async function team() {
  const owner = await person();
  const admin = await person();
  const member = await person();
  const orgId = await orgOf(owner);
  await join(owner, orgId, admin, "admin");
  await join(owner, orgId, member, "member");
  return { owner, admin, member, orgId };
}

describe("organization keys", () => {
  it("verify-key names the organization as owner and the member as maker, never as user", async () => {
    const { member, orgId } = await team();
    const made = await orgKey(member, orgId);
    expect(made).toMatchObject({
      org_id: orgId,
      created_by: member.id,
      scopes: ["jobs:read", "jobs:write", "jobs:work"],
    });
    const res = await verify(made.key);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      valid: true,
      key_id: made.id,
      owner: { type: "organization", id: orgId },
      org_id: orgId,
      created_by: member.id,
      scopes: ["jobs:read", "jobs:write", "jobs:work"],
      expires_at: null,
    });
    expect(res.body).not.toHaveProperty("user_id");
    // Not one of the member's personal keys.
    expect((await as(member, "api-keys")).body.keys).toEqual([]);
  });

  it("every member lists the organization's keys, without a key or hash; others get 404", async () => {
    const { owner, member, orgId } = await team();
    const stranger = await person();
    const made = await orgKey(owner, orgId);
    const listed = await as(member, `api-keys?org_id=${orgId}`);
    expect(listed.status).toBe(200);
    expect(listed.body.keys).toHaveLength(1);
    expect(listed.body.keys[0]).toMatchObject({
      id: made.id,
      org_id: orgId,
      created_by: owner.id,
      creator_is_member: true,
    });
    expect(JSON.stringify(listed.body)).not.toContain(made.key);
    expect(listed.body.keys[0]).not.toHaveProperty("key_hash");
    expect((await as(stranger, `api-keys?org_id=${orgId}`)).status).toBe(404);
    expect((await as(stranger, "api-keys", { method: "POST", json: { org_id: orgId } })).status).toBe(404);
    expect((await as(stranger, `api-keys/${made.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await as(stranger, `api-keys/${made.id}/rotate`, { method: "POST" })).status).toBe(404);
    expect((await verify(made.key)).status).toBe(200);
    expect((await as(member, "api-keys?org_id=not-a-uuid")).status).toBe(400);
    expect((await as(member, "api-keys?created_by=former_members")).status).toBe(400);
  });

  it("a key outlives its maker's membership, is listed as a former member's, and the owner revokes it", async () => {
    const { owner, member, orgId } = await team();
    const made = await orgKey(member, orgId);
    expect((await as(member, `orgs/${orgId}/leave`, { method: "POST" })).status).toBe(204);
    expect((await verify(made.key)).status).toBe(200);
    const former = await as(owner, `api-keys?org_id=${orgId}&created_by=former_members`);
    expect(former.body.keys.map((k: { id: string }) => k.id)).toEqual([made.id]);
    expect(former.body.keys[0].creator_is_member).toBe(false);
    // The former member can no longer touch it.
    expect((await as(member, `api-keys/${made.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await as(owner, `api-keys/${made.id}`, { method: "DELETE" })).status).toBe(204);
    expect(
      (
        await until(
          () => verify(made.key),
          (r) => r.status === 401,
          CACHE_BOUND_MS,
        )
      ).status,
    ).toBe(401);
    // Deleting the maker's account keeps the organization's other keys.
    const other = await person();
    await join(owner, orgId, other, "member");
    const kept = await orgKey(other, orgId);
    await stack.admin.query("delete from public.users where id = $1", [other.id]);
    const res = await verify(kept.key);
    expect(res.status).toBe(200);
    expect(res.body.created_by).toBeNull();
  });

  it("a member revokes and rotates only the keys they made; admins and owners any", async () => {
    const { owner, admin, member, orgId } = await team();
    const ownersKey = await orgKey(owner, orgId);
    const membersKey = await orgKey(member, orgId);
    const denied = await as(member, `api-keys/${ownersKey.id}`, { method: "DELETE" });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("forbidden");
    expect((await as(member, `api-keys/${ownersKey.id}/rotate`, { method: "POST" })).status).toBe(403);
    expect((await verify(ownersKey.key)).status).toBe(200);

    const rotated = await as(member, `api-keys/${membersKey.id}/rotate`, {
      method: "POST",
      json: { grace_seconds: 0 },
    });
    expect(rotated.status).toBe(201);
    expect(rotated.body).toMatchObject({ org_id: orgId, created_by: member.id });
    expect((await verify(rotated.body.key)).body.owner).toEqual({ type: "organization", id: orgId });
    expect((await as(admin, `api-keys/${rotated.body.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await as(admin, `api-keys/${ownersKey.id}`, { method: "DELETE" })).status).toBe(204);

    const events = await stack.admin.query<{ action: string; actor_id: string }>(
      "select action, actor_id from public.audit_events where org_id = $1 and action like 'key.%' order by id",
      [orgId],
    );
    expect(events.rows).toEqual([
      { action: "key.created", actor_id: owner.id },
      { action: "key.created", actor_id: member.id },
      { action: "key.rotated", actor_id: member.id },
      { action: "key.revoked", actor_id: admin.id },
      { action: "key.revoked", actor_id: admin.id },
    ]);
  });

  it("the maker's Keygate-wide role bounds an organization key's scopes", async () => {
    const { owner, orgId } = await team();
    const viewer = await person("viewer");
    await join(owner, orgId, viewer, "admin");
    const refused = await as(viewer, "api-keys", { method: "POST", json: { org_id: orgId, scopes: ["jobs:write"] } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("scope_above_role");
    expect((await orgKey(viewer, orgId)).scopes).toEqual(["jobs:read"]);
  });

  it("a deactivated organization's keys stop within the cache bound, and it makes no new ones", async () => {
    const { owner, member, orgId } = await team();
    const made = await orgKey(member, orgId);
    expect((await verify(made.key)).status).toBe(200);
    expect((await as(owner, `orgs/${orgId}/deactivate`, { method: "POST" })).status).toBe(200);
    expect(
      (
        await until(
          () => verify(made.key),
          (r) => r.status === 401,
          CACHE_BOUND_MS,
        )
      ).status,
    ).toBe(401);
    const refused = await as(member, "api-keys", { method: "POST", json: { org_id: orgId } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("org_inactive");
    // Its keys can still be revoked.
    expect((await as(owner, `api-keys/${made.id}`, { method: "DELETE" })).status).toBe(204);
  });

  it("counts the organization's live keys as one owner's", async () => {
    const { owner, member, orgId } = await team();
    await stack.admin.query(
      // Made two minutes ago: the cap is what this tests, not the per-minute rate.
      `insert into public.api_keys (org_id, created_by, name, start, key_hash, created_at)
       select $1, $2, 'bulk', 'kg_bulk', sha256(convert_to(gen_random_uuid()::text, 'UTF8')), now() - interval '2 minutes'
         from generate_series(1, 25)`,
      [orgId, owner.id],
    );
    const refused = await as(member, "api-keys", { method: "POST", json: { org_id: orgId } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("key_limit_reached");
    // The member's personal keys are their own budget.
    expect((await as(member, "api-keys", { method: "POST", json: {} })).status).toBe(201);
  });
});
