/**
 * The `orgs` function through the real server: create and list, roles inside
 * an organization, the last owner, invitations from creation to acceptance,
 * and tenancy (a member of one organization sees nothing of another; a
 * stranger gets 404 for everything under an organization).
 */
import { describe, expect, it } from "vitest";
import type { SignedInUser } from "../helpers/session.ts";
import { useStack } from "../helpers/stack.ts";
import { orgPeople } from "./helpers.ts";

const stack = useStack();

const { person, as, orgOf, join } = orgPeople(stack);

const orgEvents = async (orgId: string) =>
  (
    await stack.admin.query<{ action: string; actor_id: string; target_user_id: string | null }>(
      "select action, actor_id, target_user_id from public.audit_events where org_id = $1 order by id",
      [orgId],
    )
  ).rows;

describe("organizations", () => {
  it("creates an organization with its creator as owner, lists only the caller's, and derives a slug", async () => {
    const owner = await person();
    const other = await person();
    const created = await as(owner, "orgs", { method: "POST", json: { name: "Ünïcode & Co" } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "Ünïcode & Co", slug: "unicode-co", role: "owner" });
    const mine = await as(owner, "orgs");
    expect(mine.body.orgs.map((o: { id: string }) => o.id)).toContain(created.body.id);
    expect((await as(other, "orgs")).body.orgs).toEqual([]);
    const taken = await as(other, "orgs", { method: "POST", json: { name: "Again", slug: "unicode-co" } });
    expect(taken.status).toBe(409);
    expect((await as(owner, "orgs", { method: "POST", json: { name: "x", slug: "Not A Slug" } })).status).toBe(400);
    expect((await orgEvents(created.body.id)).map((e) => e.action)).toEqual(["org.created"]);
  });

  it("answers 404 to someone who is not a member, for the organization and everything under it", async () => {
    const owner = await person();
    const stranger = await person();
    const id = await orgOf(owner);
    for (const [path, method, json] of [
      [`orgs/${id}`, "GET", undefined],
      [`orgs/${id}`, "PATCH", { name: "Mine now" }],
      [`orgs/${id}/members`, "GET", undefined],
      [`orgs/${id}/members/${owner.id}`, "PATCH", { role: "member" }],
      [`orgs/${id}/members/${owner.id}`, "DELETE", undefined],
      [`orgs/${id}/invitations`, "GET", undefined],
      [`orgs/${id}/invitations`, "POST", { email: stranger.email }],
      [`orgs/${id}/transfer`, "POST", { user_id: stranger.id }],
      [`orgs/${id}/deactivate`, "POST", undefined],
    ] as const) {
      const res = await as(stranger, path, { method, ...(json ? { json } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await as(owner, `orgs/${id}`)).body.name).toBe("Acme");
  });

  it("keeps at least one owner: the last owner cannot leave, be removed or be demoted (409 last_owner)", async () => {
    const owner = await person();
    const id = await orgOf(owner);
    const demoted = await as(owner, `orgs/${id}/members/${owner.id}`, { method: "PATCH", json: { role: "admin" } });
    expect(demoted.status).toBe(409);
    expect(demoted.body.error.code).toBe("last_owner");
    expect((await as(owner, `orgs/${id}/leave`, { method: "POST" })).body.error.code).toBe("last_owner");
    expect((await as(owner, `orgs/${id}/members/${owner.id}`, { method: "DELETE" })).body.error.code).toBe(
      "last_owner",
    );
    const colleague = await person();
    await join(owner, id, colleague, "member");
    const transferred = await as(owner, `orgs/${id}/transfer`, { method: "POST", json: { user_id: colleague.id } });
    expect(transferred.status).toBe(200);
    expect((await as(owner, `orgs/${id}/leave`, { method: "POST" })).status).toBe(204);
    expect((await as(colleague, `orgs/${id}`)).body.role).toBe("owner");
    expect((await as(owner, `orgs/${id}`)).status).toBe(404);
  });

  it("lets each role do what it may and no more", async () => {
    const owner = await person();
    const id = await orgOf(owner);
    const admin = await person();
    const member = await person();
    const other = await person();
    await join(owner, id, admin, "admin");
    await join(owner, id, member, "member");
    await join(owner, id, other, "member");

    // A member reads, and may only leave.
    expect((await as(member, `orgs/${id}/members`)).body.members).toHaveLength(4);
    expect((await as(member, `orgs/${id}`, { method: "PATCH", json: { name: "No" } })).status).toBe(403);
    expect(
      (await as(member, `orgs/${id}/invitations`, { method: "POST", json: { email: "x@example.test" } })).status,
    ).toBe(403);
    expect((await as(member, `orgs/${id}/members/${other.id}`, { method: "DELETE" })).status).toBe(403);
    // An admin manages members and invitations, never an owner.
    expect((await as(admin, `orgs/${id}`, { method: "PATCH", json: { name: "Renamed" } })).status).toBe(200);
    expect(
      (await as(admin, `orgs/${id}/members/${other.id}`, { method: "PATCH", json: { role: "admin" } })).status,
    ).toBe(200);
    expect(
      (await as(admin, `orgs/${id}/members/${owner.id}`, { method: "PATCH", json: { role: "member" } })).status,
    ).toBe(403);
    expect(
      (await as(admin, `orgs/${id}/members/${member.id}`, { method: "PATCH", json: { role: "owner" } })).status,
    ).toBe(403);
    expect((await as(admin, `orgs/${id}/deactivate`, { method: "POST" })).status).toBe(403);
    expect((await as(admin, `orgs/${id}/members/${member.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await as(member, `orgs/${id}`)).status).toBe(404);

    const roles = Object.fromEntries(
      (await as(owner, `orgs/${id}/members`)).body.members.map((m: { user_id: string; role: string }) => [
        m.user_id,
        m.role,
      ]),
    );
    expect(roles).toEqual({ [owner.id]: "owner", [admin.id]: "admin", [other.id]: "admin" });
    const actions = (await orgEvents(id)).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["org.renamed", "org.member_role_changed", "org.member_removed"]));
  });

  it("accepts an invitation once, only for the invited address, and never after it expired or was revoked", async () => {
    const owner = await person();
    const id = await orgOf(owner);
    const invitee = await person();
    const someoneElse = await person();
    const invited = await as(owner, `orgs/${id}/invitations`, {
      method: "POST",
      json: { email: invitee.email.toUpperCase(), role: "admin" },
    });
    expect(invited.status).toBe(201);
    expect(invited.headers.get("cache-control")).toBe("no-store");
    expect(invited.body.url).toContain(`#invitation=${invited.body.token}`);
    const pending = await as(owner, `orgs/${id}/invitations`);
    expect(pending.body.invitations).toEqual([
      expect.objectContaining({ id: invited.body.id, email: invitee.email, role: "admin" }),
    ]);
    expect(JSON.stringify(pending.body)).not.toContain(invited.body.token);

    const accept = (user: SignedInUser, token: string) =>
      as(user, "orgs/invitations/accept", { method: "POST", json: { token } });
    const wrong = await accept(someoneElse, invited.body.token);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.code).toBe("invitation_invalid");
    const ok = await accept(invitee, invited.body.token);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ org_id: id, role: "admin" });
    expect((await accept(invitee, invited.body.token)).body.error.code).toBe("invitation_invalid");
    expect((await as(owner, `orgs/${id}/invitations`)).body.invitations).toEqual([]);

    const revoked = await as(owner, `orgs/${id}/invitations`, { method: "POST", json: { email: someoneElse.email } });
    expect((await as(owner, `orgs/${id}/invitations/${revoked.body.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await accept(someoneElse, revoked.body.token)).body.error.code).toBe("invitation_invalid");

    const expired = await as(owner, `orgs/${id}/invitations`, { method: "POST", json: { email: someoneElse.email } });
    await stack.admin.query(
      "update public.organization_invitations set expires_at = now() - interval '1 second' where id = $1",
      [expired.body.id],
    );
    expect((await accept(someoneElse, expired.body.token)).body.error.code).toBe("invitation_invalid");
    expect((await as(someoneElse, `orgs/${id}`)).status).toBe(404);
    const { rows } = await stack.admin.query(
      "select token_hash from public.organization_invitations where org_id = $1",
      [id],
    );
    for (const row of rows) expect(Buffer.from(row.token_hash).toString()).not.toContain(invited.body.token);
  });

  it("shows owners and admins the organization's own audit log, naming people but no address or agent", async () => {
    const owner = await person();
    const id = await orgOf(owner);
    const admin = await person();
    const member = await person();
    await join(owner, id, admin, "admin");
    await join(owner, id, member, "member");
    await as(admin, `orgs/${id}`, {
      method: "PATCH",
      json: { name: "Renamed" },
      headers: { "user-agent": "kg-agent/9" },
    });
    // Events of the people that are not about this organization stay out of it.
    await stack.admin.query("select keygate.append_audit_event('sign_in', 'success', $1, $1)", [admin.id]);

    const page = await as(owner, `orgs/${id}/audit?limit=100`);
    expect(page.status).toBe(200);
    const actions = page.body.events.map((e: { action: string }) => e.action);
    expect(actions[0]).toBe("org.renamed");
    expect(actions).toEqual(
      expect.arrayContaining(["org.created", "org.invitation_created", "org.invitation_accepted"]),
    );
    expect(actions).not.toContain("sign_in");
    expect(page.body.events[0].actor).toEqual({ type: "user", id: admin.id, email: admin.email });
    for (const e of page.body.events) {
      expect(e.client_address).toBeNull();
      expect(e.user_agent).toBeNull();
    }
    expect((await as(admin, `orgs/${id}/audit`)).status).toBe(200);
    expect((await as(member, `orgs/${id}/audit`)).status).toBe(403);
    expect((await as(await person(), `orgs/${id}/audit`)).status).toBe(404);
    const two = await as(owner, `orgs/${id}/audit?limit=2`);
    const next = await as(owner, `orgs/${id}/audit?limit=2&cursor=${two.body.next_cursor}`);
    expect(next.body.events[0].id).not.toBe(two.body.events[1].id);
    expect(Number(next.body.events[0].id)).toBeLessThan(Number(two.body.events[1].id));
  });

  it("keeps organizations apart: a member of one sees nothing of another", async () => {
    const alice = await person();
    const bob = await person();
    const a = await orgOf(alice, "A");
    const b = await orgOf(bob, "B");
    const invitation = await as(bob, `orgs/${b}/invitations`, {
      method: "POST",
      json: { email: "guest@example.test" },
    });
    expect((await as(alice, `orgs/${b}/invitations/${invitation.body.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await as(alice, `orgs/${a}/invitations/${invitation.body.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await as(alice, `orgs/${a}/members/${bob.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await as(alice, "orgs")).body.orgs.map((o: { id: string }) => o.id)).toEqual([a]);
  });

  it("stops changes to a deactivated organization", async () => {
    const owner = await person();
    const id = await orgOf(owner);
    expect((await as(owner, `orgs/${id}/deactivate`, { method: "POST" })).status).toBe(200);
    const res = await as(owner, `orgs/${id}/invitations`, { method: "POST", json: { email: "late@example.test" } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("org_inactive");
    expect((await as(owner, `orgs/${id}`)).body.deactivated_at).not.toBeNull();
  });

  it("refuses a cookie-authenticated change from another origin", async () => {
    const owner = await person();
    const res = await stack.call("orgs", {
      method: "POST",
      json: { name: "Forged" },
      headers: { cookie: owner.cookie, origin: "https://evil.example" },
    });
    expect(res.status).toBe(403);
    expect((await as(owner, "orgs")).body.orgs).toEqual([]);
  });
});
