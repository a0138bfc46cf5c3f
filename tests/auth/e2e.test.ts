/**
 * End to end: the real Deno server, a real OpenID provider (oidc-provider on
 * loopback) and a cookie-keeping client walking login -> provider ->
 * callback -> session -> logout, as a browser would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CookieClient } from "../helpers/cookie-client.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { startOidcProvider, type TestOidcProvider } from "../helpers/oidc.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";
import { authTables } from "./db-state.ts";

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
      OIDC_NAME: "Test IdP",
    },
  });
  auth = `${server.url}/functions/v1/auth`;
});

afterAll(async () => {
  await server?.stop();
  await oidc?.stop();
  await database?.drop();
});

describe("sign-in through the Deno server", () => {
  it("walks login -> provider -> callback -> session -> logout", async () => {
    oidc.accounts.set("alice", { email: "alice@example.test", email_verified: true, name: "Alice Liddell" });
    const browser = new CookieClient();

    const providers = await (await browser.fetch(`${auth}/providers`)).json();
    expect(providers).toEqual({ providers: [{ id: "oidc", name: "Test IdP" }] });

    const login = await browser.fetch(`${auth}/login/oidc?redirect_to=%2F`);
    expect(login.status).toBe(302);
    const callback = await oidc.authorize(login.headers.get("location")!, "alice", browser);
    expect(callback.href.startsWith(`${auth}/callback/oidc?`)).toBe(true);

    const done = await browser.fetch(callback);
    expect(done.status).toBe(302);
    expect(done.headers.get("location")).toBe(`${server.url}/`);
    const token = browser.get(`${server.url}/`, "kg_session");
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const me = await browser.fetch(`${auth}/session`);
    expect(me.status).toBe(200);
    const user = await me.json();
    expect(user).toMatchObject({ email: "alice@example.test", name: "Alice Liddell", role: "viewer" });
    const { rows } = await database.admin.query(
      "select email, name, is_active, last_login_at is not null as signed_in from public.users where id = $1",
      [user.id],
    );
    expect(rows).toEqual([{ email: "alice@example.test", name: "Alice Liddell", is_active: true, signed_in: true }]);

    const out = await browser.fetch(`${auth}/logout`, { method: "POST", headers: { origin: server.url } });
    expect(out.status).toBe(204);
    expect((await browser.fetch(`${auth}/session`)).status).toBe(401);
    const copied = await fetch(`${auth}/session`, { headers: { cookie: `kg_session=${token}` } });
    expect(copied.status).toBe(401);

    const logs = server.output();
    for (const secret of [token!, oidc.clientSecret, callback.searchParams.get("code")!])
      expect(logs).not.toContain(secret);
  });

  it("refuses a callback for another browser's sign-in and an open redirect, writing nothing", async () => {
    oidc.accounts.set("mallory", { email: "mallory@example.test", email_verified: true });
    const attacker = new CookieClient();
    const login = await attacker.fetch(`${auth}/login/oidc`);
    const callback = await oidc.authorize(login.headers.get("location")!, "mallory", attacker);

    const victim = new CookieClient();
    await victim.fetch(`${auth}/login/oidc`);
    const before = await authTables(database.admin);
    const res = await victim.fetch(callback);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${server.url}/?error=state_mismatch`);

    const open = await victim.fetch(`${auth}/login/oidc?redirect_to=${encodeURIComponent("//evil.example/")}`);
    expect(open.status).toBe(400);
    expect((await open.json()).error.code).toBe("invalid_redirect");
    expect(await authTables(database.admin)).toBe(before);
  });

  it("ends every session of a user set inactive", async () => {
    oidc.accounts.set("bob", { email: "bob@example.test", email_verified: true });
    const browser = new CookieClient();
    const login = await browser.fetch(`${auth}/login/oidc`);
    await browser.fetch(await oidc.authorize(login.headers.get("location")!, "bob", browser));
    const me = await (await browser.fetch(`${auth}/session`)).json();
    await database.admin.query("update public.users set is_active = false where id = $1", [me.id]);
    expect((await browser.fetch(`${auth}/session`)).status).toBe(401);
  });
});
