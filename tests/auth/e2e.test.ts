/**
 * End to end: the real Deno server, a real OpenID provider (oidc-provider on
 * loopback) and a cookie-keeping client walking login -> provider ->
 * callback -> session -> logout, as a browser would.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { CookieClient } from "../helpers/cookie-client.ts";
import { useStack } from "../helpers/stack.ts";
import { authTables } from "./db-state.ts";

let auth: string;

const stack = useStack({ oidc: true, env: { OIDC_NAME: "Test IdP" } });
beforeAll(async () => {
  auth = `${stack.url}/functions/v1/auth`;
});

describe("sign-in through the Deno server", () => {
  it("walks login -> provider -> callback -> session -> logout", async () => {
    stack.oidc.accounts.set("alice", { email: "alice@example.test", email_verified: true, name: "Alice Liddell" });
    const browser = new CookieClient();

    const providers = await (await browser.fetch(`${auth}/providers`)).json();
    expect(providers).toEqual({ providers: [{ id: "oidc", name: "Test IdP" }] });

    const login = await browser.fetch(`${auth}/login/oidc?redirect_to=%2F`);
    expect(login.status).toBe(302);
    const callback = await stack.oidc.authorize(login.headers.get("location")!, "alice", browser);
    expect(callback.href.startsWith(`${auth}/callback/oidc?`)).toBe(true);

    const done = await browser.fetch(callback);
    expect(done.status).toBe(302);
    expect(done.headers.get("location")).toBe(`${stack.url}/`);
    const token = browser.get(`${stack.url}/`, "kg_session");
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const me = await browser.fetch(`${auth}/session`);
    expect(me.status).toBe(200);
    const user = await me.json();
    expect(user).toMatchObject({ email: "alice@example.test", name: "Alice Liddell", role: "viewer" });
    const { rows } = await stack.admin.query(
      "select email, name, is_active, last_login_at is not null as signed_in from public.users where id = $1",
      [user.id],
    );
    expect(rows).toEqual([{ email: "alice@example.test", name: "Alice Liddell", is_active: true, signed_in: true }]);

    const out = await browser.fetch(`${auth}/logout`, { method: "POST", headers: { origin: stack.url } });
    expect(out.status).toBe(204);
    expect((await browser.fetch(`${auth}/session`)).status).toBe(401);
    const copied = await fetch(`${auth}/session`, { headers: { cookie: `kg_session=${token}` } });
    expect(copied.status).toBe(401);

    const logs = stack.server.output();
    for (const secret of [token!, stack.oidc.clientSecret, callback.searchParams.get("code")!])
      expect(logs).not.toContain(secret);
  });

  it("refuses a callback for another browser's sign-in and an open redirect, writing nothing", async () => {
    stack.oidc.accounts.set("mallory", { email: "mallory@example.test", email_verified: true });
    const attacker = new CookieClient();
    const login = await attacker.fetch(`${auth}/login/oidc`);
    const callback = await stack.oidc.authorize(login.headers.get("location")!, "mallory", attacker);

    const victim = new CookieClient();
    await victim.fetch(`${auth}/login/oidc`);
    const before = await authTables(stack.admin);
    const res = await victim.fetch(callback);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${stack.url}/?error=state_mismatch`);

    const open = await victim.fetch(`${auth}/login/oidc?redirect_to=${encodeURIComponent("//evil.example/")}`);
    expect(open.status).toBe(400);
    expect((await open.json()).error.code).toBe("invalid_redirect");
    expect(await authTables(stack.admin)).toBe(before);
  });

  it("ends every session of a user set inactive", async () => {
    stack.oidc.accounts.set("bob", { email: "bob@example.test", email_verified: true });
    const browser = new CookieClient();
    const login = await browser.fetch(`${auth}/login/oidc`);
    await browser.fetch(await stack.oidc.authorize(login.headers.get("location")!, "bob", browser));
    const me = await (await browser.fetch(`${auth}/session`)).json();
    await stack.admin.query("update public.users set is_active = false where id = $1", [me.id]);
    expect((await browser.fetch(`${auth}/session`)).status).toBe(401);
  });
});
