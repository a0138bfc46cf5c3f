/**
 * The audit log of sign-in (real OpenID provider, real Deno server): sign-in
 * and its refusals with a reason code, sign-out, the role a new user gets
 * (DEFAULT_ROLE, ADMIN_EMAILS, once), and each user's own activity at
 * `GET /auth/activity`, which says that an administrator acted but never
 * who, from where or with what. Never a token, cookie or code in an event.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { call } from "../helpers/call.ts";
import { CookieClient } from "../helpers/cookie-client.ts";
import { createSignedInUser } from "../helpers/session.ts";
import { useStack } from "../helpers/stack.ts";

let auth: string;

const stack = useStack({
  oidc: true,
  env: { DEFAULT_ROLE: "member", ADMIN_EMAILS: "Boss@Example.test, other@example.test" },
});
beforeAll(async () => {
  auth = `${stack.url}/functions/v1/auth`;
});

async function signIn(account: string, headers: Record<string, string> = {}) {
  const browser = new CookieClient();
  const login = await browser.fetch(`${auth}/login/oidc?redirect_to=%2F`);
  const callback = await stack.oidc.authorize(login.headers.get("location")!, account, browser);
  const done = await browser.fetch(callback, { headers });
  return { browser, done, code: callback.searchParams.get("code")! };
}

const eventsOf = async (userId: string) =>
  (
    await stack.admin.query(
      "select action, outcome, reason, actor_id, details from public.audit_events where target_user_id = $1 order by id",
      [userId],
    )
  ).rows;

describe("sign-in events and the role of a new user", () => {
  it("records sign-in with address and agent, gives a new user DEFAULT_ROLE once, and records sign-out", async () => {
    stack.oidc.accounts.set("dana", { email: "dana@example.test", email_verified: true, name: "Dana" });
    const { browser, done, code } = await signIn("dana", {
      "user-agent": "kg-browser/1",
      "x-forwarded-for": "192.0.2.4",
    });
    expect(done.status).toBe(302);
    const me = await (await browser.fetch(`${auth}/session`)).json();
    expect(me.role).toBe("member");
    expect(await eventsOf(me.id)).toEqual([
      {
        action: "user.role_changed",
        outcome: "success",
        reason: "first_sign_in",
        actor_id: null,
        details: { from: "viewer", to: "member" },
      },
      { action: "sign_in", outcome: "success", reason: null, actor_id: me.id, details: { provider: "oidc" } },
    ]);
    const {
      rows: [row],
    } = await stack.admin.query(
      "select host(client_address) as address, user_agent from public.audit_events where target_user_id = $1 and action = 'sign_in'",
      [me.id],
    );
    // The TCP peer: the local server trusts no proxy here, so the X-Forwarded-For the browser sent means nothing.
    expect(row).toEqual({ address: "127.0.0.1", user_agent: "kg-browser/1" });

    // An admin lowers Dana to viewer; signing in again does not raise her back.
    await stack.admin.query("update public.users set role = 'viewer' where id = $1", [me.id]);
    const again = await signIn("dana");
    expect(await (await again.browser.fetch(`${auth}/session`)).json()).toMatchObject({ role: "viewer" });

    const token = again.browser.get(`${stack.url}/`, "kg_session")!;
    expect(
      (await again.browser.fetch(`${auth}/logout`, { method: "POST", headers: { origin: stack.url } })).status,
    ).toBe(204);
    const actions = (await eventsOf(me.id)).map((e) => e.action);
    expect(actions).toEqual(["user.role_changed", "sign_in", "sign_in", "sign_out"]);

    const all = JSON.stringify((await stack.admin.query("select * from public.audit_events")).rows);
    for (const secret of [token, code, stack.oidc.clientSecret]) expect(all).not.toContain(secret);
  });

  it("makes an ADMIN_EMAILS address admin on its first verified sign-in", async () => {
    stack.oidc.accounts.set("boss", { email: "boss@example.test", email_verified: true });
    const { browser } = await signIn("boss");
    expect(await (await browser.fetch(`${auth}/session`)).json()).toMatchObject({ role: "admin" });
  });

  it("records a refused sign-in with its reason code and writes nothing else", async () => {
    stack.oidc.accounts.set("unverified", { email: "unverified@example.test", email_verified: false });
    const before = Number((await stack.admin.query("select count(*) from public.users")).rows[0].count);
    const { done } = await signIn("unverified");
    expect(done.headers.get("location")).toContain("error=email_unverified");
    const { rows } = await stack.admin.query(
      "select actor_id, target_user_id, reason, details from public.audit_events where action = 'sign_in' and outcome = 'failure'",
    );
    expect(rows).toEqual([
      { actor_id: null, target_user_id: null, reason: "email_unverified", details: { provider: "oidc" } },
    ]);
    expect(Number((await stack.admin.query("select count(*) from public.users")).rows[0].count)).toBe(before);
  });
});

describe("GET /auth/activity", () => {
  it("shows a user their own events only, newest first, a page at a time", async () => {
    const user = await createSignedInUser(stack.admin);
    const other = await createSignedInUser(stack.admin);
    for (const who of [user, user, user, other]) {
      await call(stack.url, "api-keys", {
        method: "POST",
        headers: { cookie: who.cookie, origin: stack.url },
        json: { scopes: ["jobs:read"] },
      });
    }
    const first = await call(stack.url, "auth/activity?limit=2", { headers: { cookie: user.cookie } });
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect(first.body.events).toHaveLength(2);
    expect(first.body.events[0]).toMatchObject({
      action: "key.created",
      outcome: "success",
      actor: { id: user.id, email: user.email },
    });
    const second = await call(stack.url, `auth/activity?limit=2&cursor=${first.body.next_cursor}`, {
      headers: { cookie: user.cookie },
    });
    expect(second.body.events).toHaveLength(1);
    expect(second.body.next_cursor).toBeNull();
    const ids = [...first.body.events, ...second.body.events].map((e: { target: { id: string } }) => e.target.id);
    expect(new Set(ids)).toEqual(new Set([user.id]));
  });

  it("refuses filters that name other users, and anyone signed out", async () => {
    const user = await createSignedInUser(stack.admin);
    for (const q of [`user=${crypto.randomUUID()}`, `actor=${crypto.randomUUID()}`, "limit=500"]) {
      const res = await call(stack.url, `auth/activity?${q}`, { headers: { cookie: user.cookie } });
      expect([res.status, res.body.error.code], q).toEqual([400, "validation_failed"]);
    }
    expect((await call(stack.url, "auth/activity")).status).toBe(401);
    expect(
      (
        await call(stack.url, "auth/activity", {
          method: "POST",
          headers: { cookie: user.cookie, origin: stack.url },
        })
      ).status,
    ).toBe(405);
  });
});

describe("GET /auth/activity: what a user sees of someone else's actions", () => {
  /** Every change an administrator can make to a user, as the audit log names it. */
  const ADMIN_ACTIONS = [
    "user.role_changed",
    "user.capabilities_changed",
    "user.deactivated",
    "user.reactivated",
    "key.revoked",
  ];
  const theirs = { "user-agent": "erin-laptop/1", "x-forwarded-for": "192.0.2.10" };
  const ops = { "user-agent": "ops-console/9", "x-forwarded-for": "198.51.100.77" };
  type Event = {
    id: string;
    action: string;
    reason: string | null;
    actor: Record<string, unknown> | null;
    client_address: string | null;
    user_agent: string | null;
    details: Record<string, unknown>;
  };

  /** Erin signs in for the first time, makes a key, and an admin then does everything an admin can to her. */
  async function arrange() {
    const account = `erin${crypto.randomUUID().slice(0, 8)}`;
    stack.oidc.accounts.set(account, { email: `${account}@example.test`, email_verified: true });
    const first = await signIn(account, theirs);
    const me = (await first.browser.fetch(`${auth}/session`).then((r) => r.json())) as { id: string; email: string };
    const cookie = (b: CookieClient) => `kg_session=${b.get(`${stack.url}/`, "kg_session")}`;
    const made = await call(stack.url, "api-keys", {
      method: "POST",
      headers: { cookie: cookie(first.browser), origin: stack.url, ...theirs },
      json: { name: "laptop", scopes: ["jobs:read"] },
    });
    expect(made.status).toBe(201);

    const admin = await createSignedInUser(stack.admin, { role: "admin", email: `ops-${account}@example.test` });
    const asAdmin = (path: string, method: string, json?: unknown) =>
      call(stack.url, path, { method, json, headers: { cookie: admin.cookie, origin: stack.url, ...ops } });
    expect((await asAdmin(`admin/users/${me.id}`, "PATCH", { role: "viewer" })).status).toBe(200);
    expect((await asAdmin(`admin/users/${me.id}`, "PATCH", { capabilities: ["audit.read"] })).status).toBe(200);
    expect((await asAdmin(`admin/users/${me.id}/deactivate`, "POST")).status).toBe(200);
    expect((await asAdmin(`admin/users/${me.id}/reactivate`, "POST")).status).toBe(200);
    expect((await asAdmin(`admin/keys/${made.body.id}`, "DELETE")).status).toBe(204);
    // The operator's first-admin command (scripts/admin.mjs calls this function): no actor at all.
    await stack.admin.query("select keygate.admin_update_user_by_email($1, 'member', null)", [me.email]);

    // Deactivation ended her session: she signs in again to look.
    const again = await signIn(account, theirs);
    const own = await call(stack.url, "auth/activity?limit=100", { headers: { cookie: cookie(again.browser) } });
    expect(own.status).toBe(200);
    return { me, admin, asAdmin, events: own.body.events as Event[], body: JSON.stringify(own.body) };
  }

  it("shows that an administrator acted, when and what, never who, from where or with what", async () => {
    const { me, admin, events, body } = await arrange();
    const byAdmin = events.filter((e) => e.actor?.type === "administrator");
    expect(byAdmin.map((e) => e.action).reverse()).toEqual(ADMIN_ACTIONS);
    for (const e of byAdmin) {
      expect(e, e.action).toMatchObject({ actor: { type: "administrator" }, client_address: null, user_agent: null });
      expect(Object.keys(e.actor ?? {}), e.action).toEqual(["type"]);
    }
    expect(byAdmin.map((e) => e.details).reverse()).toEqual([
      { from: "member", to: "viewer" },
      { from: [], to: ["audit.read"] },
      {},
      {},
      { name: "laptop" },
    ]);
    // No one's actions (the new account's role, the operator's command) show an address or agent either.
    const bySystem = events.filter((e) => e.actor === null);
    expect(bySystem.map((e) => [e.action, e.reason, e.details]).reverse()).toEqual([
      ["user.role_changed", "first_sign_in", { from: "viewer", to: "member" }],
      ["user.role_changed", null, { from: "viewer", to: "member" }],
    ]);
    for (const e of bySystem) expect([e.client_address, e.user_agent]).toEqual([null, null]);
    for (const secret of [admin.id, admin.email, ops["user-agent"], ops["x-forwarded-for"], "keygate admin command"]) {
      expect(body).not.toContain(secret);
    }

    // Her own actions keep her address and agent, as the table holds them.
    const mine = events.filter((e) => e.actor?.type === "user");
    expect(mine.map((e) => e.action).reverse()).toEqual(["sign_in", "key.created", "sign_in"]);
    const { rows } = await stack.admin.query<{ id: string; address: string | null }>(
      "select id::text, host(client_address) as address from public.audit_events where actor_id = $1",
      [me.id],
    );
    const recorded = new Map(rows.map((r) => [r.id, r.address]));
    for (const e of mine) {
      expect(e.actor, e.action).toEqual({ type: "user", id: me.id, email: me.email });
      expect(e.user_agent, e.action).toBe(theirs["user-agent"]);
      expect(e.client_address, e.action).not.toBeNull();
      expect(e.client_address, e.action).toBe(recorded.get(e.id));
    }
    expect(events.length).toBe(byAdmin.length + bySystem.length + mine.length);
  });

  it("keeps everything in the admin view: who acted, from where and with what", async () => {
    const { me, admin, asAdmin } = await arrange();
    const res = await asAdmin(`admin/audit?target=${me.id}&actor=${admin.id}&limit=100`, "GET");
    expect(res.status).toBe(200);
    const events = res.body.events as Event[];
    expect(events.map((e) => e.action).reverse()).toEqual(ADMIN_ACTIONS);
    const { rows } = await stack.admin.query<{ id: string; address: string | null }>(
      "select id::text, host(client_address) as address from public.audit_events where actor_id = $1",
      [admin.id],
    );
    const recorded = new Map(rows.map((r) => [r.id, r.address]));
    for (const e of events) {
      expect(e.actor, e.action).toEqual({ type: "user", id: admin.id, email: admin.email });
      expect(e.user_agent, e.action).toBe(ops["user-agent"]);
      expect(e.client_address, e.action).not.toBeNull();
      expect(e.client_address, e.action).toBe(recorded.get(e.id));
    }
    const command = await asAdmin(`admin/audit?target=${me.id}&action=user.role_changed&limit=100`, "GET");
    expect(command.body.events.map((e: Event) => [e.actor, e.user_agent])).toContainEqual([
      null,
      "keygate admin command",
    ]);
  });
});
