/**
 * The audit log of sign-in (real OpenID provider, real Deno server): sign-in
 * and its refusals with a reason code, sign-out, the role a new user gets
 * (DEFAULT_ROLE, ADMIN_EMAILS, once), and each user's own activity at
 * `GET /auth/activity`. Never a token, cookie or code in an event.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CookieClient } from "../helpers/cookie-client.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { startOidcProvider, type TestOidcProvider } from "../helpers/oidc.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";
import { call } from "../keys/helpers.ts";
import { signedInWith } from "./helpers.ts";

let database: TestDatabase;
let oidc: TestOidcProvider;
let server: RunningServer;
let auth: string;

beforeAll(async () => {
  database = await createTestDatabase();
  oidc = await startOidcProvider({ redirectUris: () => [`${server.url}/functions/v1/auth/callback/oidc`] });
  server = await startServer({
    databaseUrl: database.url,
    env: {
      OIDC_ISSUER: oidc.issuer,
      OIDC_CLIENT_ID: oidc.clientId,
      OIDC_CLIENT_SECRET: oidc.clientSecret,
      DEFAULT_ROLE: "member",
      ADMIN_EMAILS: "Boss@Example.test, other@example.test",
    },
  });
  auth = `${server.url}/functions/v1/auth`;
});
afterAll(async () => {
  await server?.stop();
  await oidc?.stop();
  await database?.drop();
});

async function signIn(account: string, headers: Record<string, string> = {}) {
  const browser = new CookieClient();
  const login = await browser.fetch(`${auth}/login/oidc?redirect_to=%2F`);
  const callback = await oidc.authorize(login.headers.get("location")!, account, browser);
  const done = await browser.fetch(callback, { headers });
  return { browser, done, code: callback.searchParams.get("code")! };
}

const eventsOf = async (userId: string) =>
  (
    await database.admin.query(
      "select action, outcome, reason, actor_id, details from public.audit_events where target_user_id = $1 order by id",
      [userId],
    )
  ).rows;

describe("sign-in events and the role of a new user", () => {
  it("records sign-in with address and agent, gives a new user DEFAULT_ROLE once, and records sign-out", async () => {
    oidc.accounts.set("dana", { email: "dana@example.test", email_verified: true, name: "Dana" });
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
    } = await database.admin.query(
      "select host(client_address) as address, user_agent from public.audit_events where target_user_id = $1 and action = 'sign_in'",
      [me.id],
    );
    // The TCP peer: the local server trusts no proxy here, so the X-Forwarded-For the browser sent means nothing.
    expect(row).toEqual({ address: "127.0.0.1", user_agent: "kg-browser/1" });

    // An admin lowers Dana to viewer; signing in again does not raise her back.
    await database.admin.query("update public.users set role = 'viewer' where id = $1", [me.id]);
    const again = await signIn("dana");
    expect(await (await again.browser.fetch(`${auth}/session`)).json()).toMatchObject({ role: "viewer" });

    const token = again.browser.get(`${server.url}/`, "kg_session")!;
    expect(
      (await again.browser.fetch(`${auth}/logout`, { method: "POST", headers: { origin: server.url } })).status,
    ).toBe(204);
    const actions = (await eventsOf(me.id)).map((e) => e.action);
    expect(actions).toEqual(["user.role_changed", "sign_in", "sign_in", "sign_out"]);

    const all = JSON.stringify((await database.admin.query("select * from public.audit_events")).rows);
    for (const secret of [token, code, oidc.clientSecret]) expect(all).not.toContain(secret);
  });

  it("makes an ADMIN_EMAILS address admin on its first verified sign-in", async () => {
    oidc.accounts.set("boss", { email: "boss@example.test", email_verified: true });
    const { browser } = await signIn("boss");
    expect(await (await browser.fetch(`${auth}/session`)).json()).toMatchObject({ role: "admin" });
  });

  it("records a refused sign-in with its reason code and writes nothing else", async () => {
    oidc.accounts.set("unverified", { email: "unverified@example.test", email_verified: false });
    const before = Number((await database.admin.query("select count(*) from public.users")).rows[0].count);
    const { done } = await signIn("unverified");
    expect(done.headers.get("location")).toContain("error=email_unverified");
    const { rows } = await database.admin.query(
      "select actor_id, target_user_id, reason, details from public.audit_events where action = 'sign_in' and outcome = 'failure'",
    );
    expect(rows).toEqual([
      { actor_id: null, target_user_id: null, reason: "email_unverified", details: { provider: "oidc" } },
    ]);
    expect(Number((await database.admin.query("select count(*) from public.users")).rows[0].count)).toBe(before);
  });
});

describe("GET /auth/activity", () => {
  it("shows a user their own events only, newest first, a page at a time", async () => {
    const user = await signedInWith(database.admin);
    const other = await signedInWith(database.admin);
    for (const who of [user, user, user, other]) {
      await call(server.url, "api-keys", {
        method: "POST",
        headers: { cookie: who.cookie, origin: server.url },
        json: { scopes: ["jobs:read"] },
      });
    }
    const first = await call(server.url, "auth/activity?limit=2", { headers: { cookie: user.cookie } });
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect(first.body.events).toHaveLength(2);
    expect(first.body.events[0]).toMatchObject({
      action: "key.created",
      outcome: "success",
      actor: { id: user.id, email: user.email },
    });
    const second = await call(server.url, `auth/activity?limit=2&cursor=${first.body.next_cursor}`, {
      headers: { cookie: user.cookie },
    });
    expect(second.body.events).toHaveLength(1);
    expect(second.body.next_cursor).toBeNull();
    const ids = [...first.body.events, ...second.body.events].map((e: { target: { id: string } }) => e.target.id);
    expect(new Set(ids)).toEqual(new Set([user.id]));
  });

  it("refuses filters that name other users, and anyone signed out", async () => {
    const user = await signedInWith(database.admin);
    for (const q of [`user=${crypto.randomUUID()}`, `actor=${crypto.randomUUID()}`, "limit=500"]) {
      const res = await call(server.url, `auth/activity?${q}`, { headers: { cookie: user.cookie } });
      expect([res.status, res.body.error.code], q).toEqual([400, "validation_failed"]);
    }
    expect((await call(server.url, "auth/activity")).status).toBe(401);
    expect(
      (
        await call(server.url, "auth/activity", {
          method: "POST",
          headers: { cookie: user.cookie, origin: server.url },
        })
      ).status,
    ).toBe(405);
  });
});
