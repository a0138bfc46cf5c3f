/**
 * Sign-in against a real OpenID provider (oidc-provider on loopback), with the
 * auth handler called in-process. The provider's token responses pass through
 * the handler's injected fetch, so a test can make the provider misbehave
 * (wrong nonce, audience, expiry, signing key) while everything else is real.
 */

import { decodeJwt, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import { createAuthHandler } from "../../functions/_shared/handlers/auth/handler.ts";
import { CookieClient } from "../helpers/cookie-client.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { startOidcProvider, type TestOidcProvider } from "../helpers/oidc.ts";
import { authTables } from "./db-state.ts";

const PUBLIC_URL = "http://127.0.0.1:9"; // never contacted: its requests are answered in-process
const AUTH = `${PUBLIC_URL}/functions/v1/auth`;

type ClaimsTamper = (claims: Record<string, unknown>) => Record<string, unknown>;
let tamper: { claims?: ClaimsTamper; key?: CryptoKey } | undefined;

let database: TestDatabase;
let oidc: TestOidcProvider;
let handler: (req: Request) => Promise<Response>;

/** Passes provider traffic through, re-signing the ID token when a test asks for it. */
async function providerFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const res = await fetch(input, init);
  const url = new URL(input instanceof Request ? input.url : input);
  if (!tamper || url.pathname !== "/token" || res.status !== 200) return res;
  const body = await res.json();
  const claims = tamper.claims ? tamper.claims(decodeJwt(body.id_token)) : decodeJwt(body.id_token);
  body.id_token = await new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", kid: oidc.signing.kid })
    .sign(tamper.key ?? oidc.signing.privateKey);
  return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
}

beforeAll(async () => {
  database = await createTestDatabase();
  oidc = await startOidcProvider({ redirectUris: () => [`${AUTH}/callback/oidc`] });
  const config = loadConfig({
    KEYGATE_ENV: "development",
    PUBLIC_URL,
    SESSION_SECRET: "test-secret-for-the-login-state-cookie",
    OIDC_ISSUER: oidc.issuer,
    OIDC_CLIENT_ID: oidc.clientId,
    OIDC_CLIENT_SECRET: oidc.clientSecret,
    OIDC_NAME: "Test IdP",
    ALLOWED_REDIRECT_ORIGINS: "https://app.example.test",
  });
  handler = createAuthHandler({ config, db: database.db, fetchImpl: providerFetch, log: () => {} });
});

afterAll(async () => {
  await oidc?.stop();
  await database?.drop();
});

beforeEach(() => {
  tamper = undefined;
});

function newBrowser(): CookieClient {
  return new CookieClient({ [PUBLIC_URL]: handler });
}

function account(claims: { email?: string; email_verified?: boolean; name?: string } = {}): string {
  const id = `acct-${Math.random().toString(36).slice(2, 10)}`;
  oidc.accounts.set(id, { email: `${id}@example.test`, email_verified: true, name: `Person ${id}`, ...claims });
  return id;
}

/** Starts a sign-in and signs in at the provider; returns the callback URL the provider sends back. */
async function toCallback(browser: CookieClient, accountId: string, redirectTo?: string): Promise<URL> {
  const query = redirectTo === undefined ? "" : `?redirect_to=${encodeURIComponent(redirectTo)}`;
  const login = await browser.fetch(`${AUTH}/login/oidc${query}`);
  expect(login.status).toBe(302);
  return await oidc.authorize(login.headers.get("location")!, accountId, browser);
}

/** Sends the callback and checks the shared promises of a refusal: a redirect with the code, the login cookie gone. */
async function expectRefused(browser: CookieClient, callback: URL, code: string): Promise<void> {
  const res = await browser.fetch(callback);
  expect(res.status).toBe(302);
  expect(res.headers.get("location")).toBe(`${PUBLIC_URL}/?error=${code}`);
  expect(res.headers.getSetCookie().some((c) => c.startsWith("kg_session="))).toBe(false);
  expect(browser.get(callback, "kg_login")).toBeUndefined();
}

describe("sign-in with an OpenID provider", () => {
  it("signs a new user in: session cookie, 302 to redirect_to, the users row", async () => {
    const browser = newBrowser();
    const id = account({ name: "Ada Lovelace" });
    const login = await browser.fetch(`${AUTH}/login/oidc?redirect_to=${encodeURIComponent("/keys?tab=1")}`);
    const authorize = new URL(login.headers.get("location")!);
    expect(authorize.origin).toBe(oidc.issuer);
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${AUTH}/callback/oidc`);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("state")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get("nonce")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const loginCookie = login.headers.getSetCookie().find((c) => c.startsWith("kg_login="))!;
    expect(loginCookie).toMatch(/; Path=\/functions\/v1\/auth; Max-Age=600; HttpOnly; SameSite=Lax$/);

    const callback = await oidc.authorize(authorize, id, browser);
    expect(callback.searchParams.get("iss")).toBe(oidc.issuer);
    const res = await browser.fetch(callback);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${PUBLIC_URL}/keys?tab=1`);
    const session = res.headers.getSetCookie().find((c) => c.startsWith("kg_session="))!;
    expect(session).toMatch(/^kg_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=604800; HttpOnly; SameSite=Lax$/);
    expect(browser.get(callback, "kg_login")).toBeUndefined();

    const me = await browser.fetch(`${AUTH}/session`);
    expect(me.status).toBe(200);
    const user = await me.json();
    expect(user).toEqual({
      id: expect.any(String),
      email: `${id}@example.test`,
      name: "Ada Lovelace",
      image_url: null,
      role: "viewer",
    });

    const { rows } = await database.admin.query(
      `select u.email, u.name, u.last_login_at is not null as logged_in, i.provider, i.subject
         from public.users u join public.user_identities i on i.user_id = u.id where u.id = $1`,
      [user.id],
    );
    expect(rows).toEqual([
      { email: `${id}@example.test`, name: "Ada Lovelace", logged_in: true, provider: "oidc", subject: id },
    ]);
  });

  it("signs the same identity in again as the same user", async () => {
    const id = account();
    const first = newBrowser();
    await first.fetch(await toCallback(first, id));
    const second = newBrowser();
    await second.fetch(await toCallback(second, id));
    const a = await (await first.fetch(`${AUTH}/session`)).json();
    const b = await (await second.fetch(`${AUTH}/session`)).json();
    expect(a.id).toBe(b.id);
    const { rows } = await database.admin.query("select count(*)::int as n from public.sessions where user_id = $1", [
      a.id,
    ]);
    expect(rows[0].n).toBe(2);
  });

  it("returns to an absolute URL on an allowed origin", async () => {
    const browser = newBrowser();
    const res = await browser.fetch(await toCallback(browser, account(), "https://app.example.test/welcome"));
    expect(res.headers.get("location")).toBe("https://app.example.test/welcome");
  });

  it("lists the configured providers", async () => {
    const res = await handler(new Request(`${AUTH}/providers`));
    expect(await res.json()).toEqual({ providers: [{ id: "oidc", name: "Test IdP" }] });
  });

  it("answers 404 unknown_provider for a provider that is not configured", async () => {
    const res = await handler(new Request(`${AUTH}/login/github`));
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe("unknown_provider");
  });
});

describe("refused callbacks leave the database unchanged", () => {
  it("refuses a callback without state", async () => {
    const browser = newBrowser();
    const callback = await toCallback(browser, account());
    callback.searchParams.delete("state");
    const before = await authTables(database.admin);
    await expectRefused(browser, callback, "state_mismatch");
    expect(await authTables(database.admin)).toBe(before);
  });

  it("refuses a callback whose state is not the browser's (login CSRF)", async () => {
    const attacker = newBrowser();
    const attackersCallback = await toCallback(attacker, account());
    const victim = newBrowser();
    await victim.fetch(`${AUTH}/login/oidc`); // the victim has a login cookie of their own
    const before = await authTables(database.admin);
    await expectRefused(victim, attackersCallback, "state_mismatch");
    expect(await authTables(database.admin)).toBe(before);
  });

  it("refuses a callback without the login cookie (expired or another browser) with JSON login_expired", async () => {
    const browser = newBrowser();
    const callback = await toCallback(browser, account());
    const before = await authTables(database.admin);
    const res = await newBrowser().fetch(callback);
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe("login_expired");
    expect(res.headers.getSetCookie()).toContain(
      "kg_login=; Path=/functions/v1/auth; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax",
    );
    expect(await authTables(database.admin)).toBe(before);
  });

  it("refuses a replayed callback, with or without the old login cookie", async () => {
    const browser = newBrowser();
    const callback = await toCallback(browser, account());
    const loginCookie = browser.get(callback, "kg_login")!;
    expect((await browser.fetch(callback)).status).toBe(302);
    const before = await authTables(database.admin);

    const replay = await browser.fetch(callback); // the login cookie was cleared
    expect(replay.status).toBe(400);
    expect((await replay.json()).error.code).toBe("login_expired");

    const thief = newBrowser(); // someone who copied both the URL and the login cookie
    thief.set(PUBLIC_URL, "kg_login", loginCookie, "/functions/v1/auth");
    const tokensBefore = oidc.tokenRequests();
    await expectRefused(thief, callback, "provider_error"); // the provider refuses the used code
    expect(oidc.tokenRequests()).toBe(tokensBefore + 1);
    expect(await authTables(database.admin)).toBe(before);
  });

  it("refuses a response with another issuer's iss parameter (RFC 9207 mix-up)", async () => {
    const browser = newBrowser();
    const callback = await toCallback(browser, account());
    callback.searchParams.set("iss", "http://127.0.0.1:1");
    const before = await authTables(database.admin);
    const tokensBefore = oidc.tokenRequests();
    await expectRefused(browser, callback, "provider_error");
    expect(oidc.tokenRequests()).toBe(tokensBefore); // the code was never sent anywhere
    expect(await authTables(database.admin)).toBe(before);
  });

  it("refuses a response without the iss parameter the provider advertises", async () => {
    const browser = newBrowser();
    const callback = await toCallback(browser, account());
    callback.searchParams.delete("iss");
    const before = await authTables(database.admin);
    await expectRefused(browser, callback, "provider_error");
    expect(await authTables(database.admin)).toBe(before);
  });

  const idTokenCases: [string, () => Promise<typeof tamper>][] = [
    ["a wrong nonce", async () => ({ claims: (c) => ({ ...c, nonce: "not-the-nonce-of-this-attempt" }) })],
    ["a wrong audience", async () => ({ claims: (c) => ({ ...c, aud: "someone-else" }) })],
    ["an expired ID token", async () => ({ claims: (c) => ({ ...c, iat: 1_600_000_000, exp: 1_600_000_600 }) })],
    ["another issuer in the ID token", async () => ({ claims: (c) => ({ ...c, iss: "http://127.0.0.1:1" }) })],
    ["an ID token signed by an unknown key", async () => ({ key: (await generateKeyPair("RS256")).privateKey })],
  ];
  for (const [what, make] of idTokenCases) {
    it(`refuses ${what}`, async () => {
      const browser = newBrowser();
      const callback = await toCallback(browser, account());
      const before = await authTables(database.admin);
      tamper = await make();
      await expectRefused(browser, callback, "provider_error");
      expect(await authTables(database.admin)).toBe(before);
    });
  }

  it("accepts an ID token re-signed with the provider's own key (the tampering above is what fails)", async () => {
    const browser = newBrowser();
    const callback = await toCallback(browser, account());
    tamper = { claims: (c) => c };
    const res = await browser.fetch(callback);
    expect(res.headers.get("location")).toBe(`${PUBLIC_URL}/`);
  });

  it("refuses an unverified email", async () => {
    const browser = newBrowser();
    const callback = await toCallback(browser, account({ email_verified: false }));
    const before = await authTables(database.admin);
    await expectRefused(browser, callback, "email_unverified");
    expect(await authTables(database.admin)).toBe(before);
  });

  it("refuses an account without an email", async () => {
    const browser = newBrowser();
    const id = account();
    oidc.accounts.set(id, { name: "No Mail" });
    const before = await authTables(database.admin);
    await expectRefused(browser, await toCallback(browser, id), "email_unverified");
    expect(await authTables(database.admin)).toBe(before);
  });

  it("refuses an inactive user, whose existing sessions stop at once", async () => {
    const id = account();
    const earlier = newBrowser();
    await earlier.fetch(await toCallback(earlier, id));
    const { id: userId } = await (await earlier.fetch(`${AUTH}/session`)).json();
    await database.admin.query("update public.users set is_active = false where id = $1", [userId]);

    expect((await earlier.fetch(`${AUTH}/session`)).status).toBe(401);
    const browser = newBrowser();
    const callback = await toCallback(browser, id);
    const before = await authTables(database.admin);
    await expectRefused(browser, callback, "user_inactive");
    expect(await authTables(database.admin)).toBe(before);
  });

  it("refuses when the user declines at the provider", async () => {
    const browser = newBrowser();
    const login = await browser.fetch(`${AUTH}/login/oidc`);
    const callback = await oidc.deny(login.headers.get("location")!, browser);
    expect(callback.searchParams.get("error")).toBe("access_denied");
    const before = await authTables(database.admin);
    await expectRefused(browser, callback, "access_denied");
    expect(await authTables(database.admin)).toBe(before);
  });

  it("sends failures back to the allowed origin the sign-in was going to", async () => {
    const browser = newBrowser();
    const callback = await toCallback(browser, account({ email_verified: false }), "https://app.example.test/x");
    const res = await browser.fetch(callback);
    expect(res.headers.get("location")).toBe("https://app.example.test/?error=email_unverified");
  });
});
