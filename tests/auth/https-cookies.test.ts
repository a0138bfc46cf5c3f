/**
 * Cookie flags follow PUBLIC_URL: on https both cookies are Secure,
 * host-only and `__Host-` prefixed (`__Host-kg_session`, `__Host-kg_login`),
 * so a sibling subdomain cannot plant either; SESSION_SECRET is required in
 * production.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OAuthProvider } from "../../functions/_shared/auth/oauth-provider.ts";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import { createAuthHandler } from "../../functions/_shared/handlers/auth/handler.ts";
import { CookieClient } from "../helpers/cookie-client.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

const PUBLIC_URL = "https://keygate.example.com";
const AUTH = "https://keygate.example.com/functions/v1/auth";
let database: TestDatabase;
let handler: (req: Request) => Promise<Response>;

/** A provider that vouches for one fixed identity once its state checks out. */
const provider: OAuthProvider = {
  id: "oidc",
  name: "Stub",
  authorizationUrl: async (attempt) => new URL(`https://idp.example/authorize?state=${attempt.state}`),
  complete: async () => ({
    subject: "stub-1",
    email: "stub@example.test",
    emailVerified: true,
    name: null,
    imageUrl: null,
  }),
};

beforeAll(async () => {
  database = await createTestDatabase();
  const config = loadConfig({ PUBLIC_URL, SESSION_SECRET: "production-secret", DATABASE_URL: database.url });
  expect(config.production).toBe(true);
  handler = createAuthHandler({ config, db: database.db, providers: new Map([["oidc", provider]]), log: () => {} });
});

afterAll(async () => {
  await database?.drop();
});

describe("on an https PUBLIC_URL", () => {
  it("sets Secure, __Host- prefixed cookies that a sibling subdomain cannot plant", async () => {
    const browser = new CookieClient({ "https://keygate.example.com": handler });
    const login = await browser.fetch(`${AUTH}/login/oidc`);
    expect(login.headers.getSetCookie()).toEqual([
      expect.stringMatching(/^__Host-kg_login=[^;]+; Path=\/; Max-Age=600; HttpOnly; Secure; SameSite=Lax$/),
    ]);
    const state = new URL(login.headers.get("location")!).searchParams.get("state")!;
    const done = await browser.fetch(`${AUTH}/callback/oidc?code=c&state=${state}`);
    expect(done.status).toBe(302);
    expect(done.headers.get("location")).toBe("https://keygate.example.com/");
    expect(done.headers.getSetCookie()).toEqual([
      "__Host-kg_login=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax",
      expect.stringMatching(
        /^__Host-kg_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=604800; HttpOnly; Secure; SameSite=Lax$/,
      ),
    ]);
    expect((await browser.fetch(`${AUTH}/session`)).status).toBe(200);
  });

  it("never takes the login cookie, now sent everywhere, for a session", async () => {
    const browser = new CookieClient({ "https://keygate.example.com": handler });
    await browser.fetch(`${AUTH}/login/oidc`);
    const login = browser.get(`${AUTH}/session`, "__Host-kg_login")!;
    expect(login).toBeTruthy();
    expect((await browser.fetch(`${AUTH}/session`)).status).toBe(401);
    // Even under the session cookie's name, a sealed login state is no session token.
    browser.set(PUBLIC_URL, "__Host-kg_session", login);
    expect((await browser.fetch(`${AUTH}/session`)).status).toBe(401);
  });

  it("ignores a login cookie a sibling subdomain could set (no __Host- prefix)", async () => {
    const browser = new CookieClient({ "https://keygate.example.com": handler });
    const login = await browser.fetch(`${AUTH}/login/oidc`);
    const state = new URL(login.headers.get("location")!).searchParams.get("state")!;
    const [name, sealed] = login.headers.getSetCookie()[0].split(";")[0].split("=");
    browser.delete(PUBLIC_URL, name);
    // What a page on another subdomain can set for the parent domain: no __Host- cookie.
    for (const planted of ["__Secure-kg_login", "kg_login"]) browser.set(PUBLIC_URL, planted, sealed);
    const res = await browser.fetch(`${AUTH}/callback/oidc?code=c&state=${state}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "login_expired" } });
  });

  it("sends failures to PUBLIC_URL's dashboard", async () => {
    const browser = new CookieClient({ "https://keygate.example.com": handler });
    await browser.fetch(`${AUTH}/login/oidc`);
    const res = await browser.fetch(`${AUTH}/callback/oidc?code=c&state=wrong-state-value`);
    expect(res.headers.get("location")).toBe(`${PUBLIC_URL}/?error=state_mismatch`);
  });
});

describe("SESSION_SECRET", () => {
  it("is required in production", () => {
    const config = loadConfig({ PUBLIC_URL });
    expect(() => createAuthHandler({ config, db: database.db, providers: new Map() })).toThrow(/SESSION_SECRET/);
  });
});
