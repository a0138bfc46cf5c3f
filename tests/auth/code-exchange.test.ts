/**
 * Cross-site sign-in against a real OpenID provider and real Postgres, the
 * auth and api-keys handlers in-process: a login with a code_challenge ends
 * in a single-use code in the URL fragment (no cookie), which `POST
 * /auth/token` exchanges, with the verifier, for a bearer session token. The
 * code works once, for 60 seconds, with its verifier, from its origin; every
 * refusal is a 4xx that writes nothing.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUserResolver } from "../../functions/_shared/auth/require-user.ts";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import { createApiKeysHandler } from "../../functions/_shared/handlers/api-keys/handler.ts";
import { createAuthHandler } from "../../functions/_shared/handlers/auth/handler.ts";
import { CookieClient } from "../helpers/cookie-client.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { startOidcProvider, type TestOidcProvider } from "../helpers/oidc.ts";
import { authTables } from "./db-state.ts";

const PUBLIC_URL = "http://127.0.0.1:9"; // never contacted: its requests are answered in-process
const AUTH = `${PUBLIC_URL}/functions/v1/auth`;
const DASHBOARD = "https://dashboard.example.test";
const RETURN_TO = `${DASHBOARD}/keygate/`;

let database: TestDatabase;
let oidc: TestOidcProvider;
let auth: (req: Request) => Promise<Response>;
let apiKeys: (req: Request) => Promise<Response>;
const logged: string[] = [];

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
    ALLOWED_REDIRECT_ORIGINS: DASHBOARD,
    // These refuse one account several times within seconds; the refusal limits have a suite of their own.
    AUTH_ACCOUNT_FAILURES_PER_MINUTE: "100",
  });
  const log = (message: string, fields?: Record<string, unknown>) =>
    logged.push(JSON.stringify({ message, ...fields }));
  auth = createAuthHandler({ config, db: database.db, log });
  apiKeys = createApiKeysHandler({
    config,
    db: database.db,
    resolveUser: createUserResolver({ config, db: database.db }),
    log,
  });
});

afterAll(async () => {
  await oidc?.stop();
  await database?.drop();
});

/** What a refusal must leave untouched: users, identities, sessions and sign-in codes. */
async function state(): Promise<string> {
  const { rows } = await database.admin.query(
    "select coalesce(json_agg(c order by c.code_hash), '[]') as codes from public.sign_in_codes c",
  );
  return (await authTables(database.admin)) + JSON.stringify(rows[0].codes);
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

function account(): string {
  const id = `acct-${randomBytes(5).toString("hex")}`;
  oidc.accounts.set(id, { email: `${id}@example.test`, email_verified: true, name: `Person ${id}` });
  return id;
}

/** Signs in at the provider with a challenge; returns the callback's answer. */
async function signInCrossSite(
  challenge: string,
  browser = new CookieClient({ [PUBLIC_URL]: auth }),
): Promise<Response> {
  const query = new URLSearchParams({
    redirect_to: RETURN_TO,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  const login = await browser.fetch(`${AUTH}/login/oidc?${query}`);
  expect(login.status).toBe(302);
  const callback = await oidc.authorize(login.headers.get("location")!, account(), browser);
  return await browser.fetch(callback);
}

/** The code from a callback's Location (`<redirect_to>#code=...`). */
function codeOf(res: Response): string {
  const location = new URL(res.headers.get("location")!);
  return new URLSearchParams(location.hash.slice(1)).get("code")!;
}

function exchange(body: unknown, origin: string | null = DASHBOARD): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (origin) headers.origin = origin;
  return auth(new Request(`${AUTH}/token`, { method: "POST", headers, body: JSON.stringify(body) }));
}

async function expectInvalidGrant(res: Response): Promise<void> {
  expect(res.status).toBe(400);
  expect((await res.json()).error.code).toBe("invalid_grant");
}

function withBearer(token: string, init: RequestInit = {}): RequestInit {
  return { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } };
}

describe("a sign-in with a code_challenge", () => {
  it("returns to redirect_to with a code in the fragment and sets no session cookie", async () => {
    const { challenge } = pkce();
    const res = await signInCrossSite(challenge);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(`${location.origin}${location.pathname}${location.search}`).toBe(RETURN_TO);
    expect(location.hash).toMatch(/^#code=[A-Za-z0-9_-]{43}$/);
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const cookies = res.headers.getSetCookie();
    expect(cookies.some((c) => c.startsWith("kg_session="))).toBe(false);
    expect(cookies).toEqual([expect.stringMatching(/^kg_login=; .*Max-Age=0/)]);

    // Stored as a hash only, for 60 seconds, bound to the challenge and the origin.
    const code = codeOf(res);
    const { rows } = await database.admin.query(
      `select code_challenge, origin, extract(epoch from expires_at - created_at)::int as ttl,
              code_hash = sha256(convert_to($1, 'utf8')) as hashed
         from public.sign_in_codes where code_hash = sha256(convert_to($1, 'utf8'))`,
      [code],
    );
    expect(rows).toEqual([{ code_challenge: challenge, origin: DASHBOARD, ttl: 60, hashed: true }]);
  });

  it("exchanges the code with its verifier for a bearer session, once", async () => {
    const { verifier, challenge } = pkce();
    const code = codeOf(await signInCrossSite(challenge));

    const res = await exchange({ code, code_verifier: verifier });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("access-control-allow-origin")).toBe(DASHBOARD);
    expect(res.headers.getSetCookie()).toEqual([]);
    const body = await res.json();
    expect(body).toEqual({
      access_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      token_type: "bearer",
      expires_in: 43200,
    });

    const me = await auth(new Request(`${AUTH}/session`, withBearer(body.access_token)));
    expect(me.status).toBe(200);
    expect((await me.json()).email).toMatch(/@example\.test$/);

    // The code is gone; a replay is refused and writes nothing.
    const before = await state();
    await expectInvalidGrant(await exchange({ code, code_verifier: verifier }));
    expect(await state()).toBe(before);
    expect(logged.join("\n")).not.toContain(code);
    expect(logged.join("\n")).not.toContain(body.access_token);
  });

  it("refuses a wrong verifier, writing nothing, and the right one still works", async () => {
    const { verifier, challenge } = pkce();
    const code = codeOf(await signInCrossSite(challenge));
    const before = await state();
    await expectInvalidGrant(await exchange({ code, code_verifier: pkce().verifier }));
    // The challenge itself is not the verifier.
    await expectInvalidGrant(await exchange({ code, code_verifier: challenge }));
    expect(await state()).toBe(before);
    expect((await exchange({ code, code_verifier: verifier })).status).toBe(200);
  });

  it("refuses an expired code, writing nothing", async () => {
    const { verifier, challenge } = pkce();
    const code = codeOf(await signInCrossSite(challenge));
    await database.admin.query(
      `update public.sign_in_codes set created_at = created_at - interval '61 seconds', expires_at = expires_at - interval '61 seconds'
        where code_hash = sha256(convert_to($1, 'utf8'))`,
      [code],
    );
    const before = await state();
    await expectInvalidGrant(await exchange({ code, code_verifier: verifier }));
    expect(await state()).toBe(before);
  });

  it("refuses the code from another origin, or without one, writing nothing", async () => {
    const { verifier, challenge } = pkce();
    const code = codeOf(await signInCrossSite(challenge));
    const before = await state();
    await expectInvalidGrant(await exchange({ code, code_verifier: verifier }, "https://evil.example"));
    await expectInvalidGrant(await exchange({ code, code_verifier: verifier }, PUBLIC_URL));
    await expectInvalidGrant(await exchange({ code, code_verifier: verifier }, null));
    expect(await state()).toBe(before);
    expect((await exchange({ code, code_verifier: verifier })).status).toBe(200);
  });

  it("lets only one of three concurrent exchanges of one code succeed", async () => {
    const { verifier, challenge } = pkce();
    const code = codeOf(await signInCrossSite(challenge));
    const answers = await Promise.all([1, 2, 3].map(() => exchange({ code, code_verifier: verifier })));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400, 400]);
  });

  it("refuses an unknown code and malformed bodies with a 4xx", async () => {
    const { verifier } = pkce();
    const before = await state();
    await expectInvalidGrant(await exchange({ code: randomBytes(32).toString("base64url"), code_verifier: verifier }));
    for (const body of [
      {},
      { code: "short", code_verifier: verifier },
      { code: randomBytes(32).toString("base64url") },
      { code: randomBytes(32).toString("base64url"), code_verifier: "too-short" },
      { code: randomBytes(32).toString("base64url"), code_verifier: verifier, extra: 1 },
    ]) {
      const res = await exchange(body);
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe("validation_failed");
    }
    const notJson = await auth(
      new Request(`${AUTH}/token`, {
        method: "POST",
        headers: { origin: DASHBOARD, "content-type": "text/plain" },
        body: "code=x",
      }),
    );
    expect(notJson.status).toBe(415);
    const get = await auth(new Request(`${AUTH}/token`));
    expect(get.status).toBe(405);
    expect(await state()).toBe(before);
  });

  it("refuses a code of a user deactivated after the callback", async () => {
    const { verifier, challenge } = pkce();
    const code = codeOf(await signInCrossSite(challenge));
    await database.admin.query(
      "update public.users set is_active = false where id = (select user_id from public.sign_in_codes where code_hash = sha256(convert_to($1, 'utf8')))",
      [code],
    );
    await expectInvalidGrant(await exchange({ code, code_verifier: verifier }));
  });
});

describe("login parameters of the cross-site flow", () => {
  it("refuses a redirect_to that is not allowed, before the provider", async () => {
    const { challenge } = pkce();
    const query = new URLSearchParams({ redirect_to: "https://evil.example/", code_challenge: challenge });
    const res = await auth(new Request(`${AUTH}/login/oidc?${query}`));
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe("invalid_redirect");
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it("refuses a challenge of the wrong shape or method", async () => {
    const { challenge } = pkce();
    const cases: Record<string, string>[] = [
      { code_challenge: "short" },
      { code_challenge: `${challenge}A` },
      { code_challenge: challenge.replace(/.$/, "=") },
      { code_challenge: challenge, code_challenge_method: "plain" },
      { code_challenge_method: "S256" },
    ];
    for (const params of cases) {
      const query = new URLSearchParams({ redirect_to: RETURN_TO, ...params });
      const res = await auth(new Request(`${AUTH}/login/oidc?${query}`));
      expect(res.status, JSON.stringify(params)).toBe(400);
      expect((await res.json()).error.code).toBe("validation_failed");
      expect(res.headers.getSetCookie()).toEqual([]);
    }
  });

  it("sends a failed cross-site sign-in back to redirect_to with the error in the fragment", async () => {
    const { challenge } = pkce();
    const browser = new CookieClient({ [PUBLIC_URL]: auth });
    const query = new URLSearchParams({ redirect_to: RETURN_TO, code_challenge: challenge });
    const login = await browser.fetch(`${AUTH}/login/oidc?${query}`);
    const denied = await oidc.deny(login.headers.get("location")!, browser);
    const before = await state();
    const res = await browser.fetch(denied);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${RETURN_TO}#error=access_denied`);
    expect(await state()).toBe(before);
  });

  it("keeps the cookie flow without a code_challenge", async () => {
    const browser = new CookieClient({ [PUBLIC_URL]: auth });
    const login = await browser.fetch(`${AUTH}/login/oidc?redirect_to=%2F`);
    const res = await browser.fetch(await oidc.authorize(login.headers.get("location")!, account(), browser));
    expect(res.headers.get("location")).toBe(`${PUBLIC_URL}/`);
    expect(res.headers.getSetCookie().some((c) => /^kg_session=[A-Za-z0-9_-]{43};/.test(c))).toBe(true);
  });
});

describe("a bearer session", () => {
  async function bearerSession(): Promise<string> {
    const { verifier, challenge } = pkce();
    const code = codeOf(await signInCrossSite(challenge));
    return (await (await exchange({ code, code_verifier: verifier })).json()).access_token;
  }

  it("creates, lists, rotates and revokes keys without an Origin (no CSRF check for a bearer)", async () => {
    const token = await bearerSession();
    const url = `${PUBLIC_URL}/functions/v1/api-keys`;
    const json = { "content-type": "application/json" };
    const created = await apiKeys(
      new Request(url, withBearer(token, { method: "POST", headers: json, body: JSON.stringify({ name: "cross" }) })),
    );
    expect(created.status).toBe(201);
    const { id } = await created.json();
    const list = await apiKeys(new Request(url, withBearer(token)));
    expect((await list.json()).keys.map((k: { id: string }) => k.id)).toEqual([id]);
    const rotated = await apiKeys(
      new Request(`${url}/${id}/rotate`, withBearer(token, { method: "POST", headers: json, body: "{}" })),
    );
    expect(rotated.status).toBe(201);
    const revoked = await apiKeys(
      new Request(`${url}/${(await rotated.json()).id}`, withBearer(token, { method: "DELETE" })),
    );
    expect(revoked.status).toBe(204);
  });

  it("is refused when it is not a live session", async () => {
    const res = await auth(new Request(`${AUTH}/session`, withBearer(randomBytes(32).toString("base64url"))));
    expect(res.status).toBe(401);
  });

  it("ends server-side at logout, without an Origin", async () => {
    const token = await bearerSession();
    const out = await auth(new Request(`${AUTH}/logout`, withBearer(token, { method: "POST" })));
    expect(out.status).toBe(204);
    const { rows } = await database.admin.query(
      "select count(*)::int as n from public.sessions where token_hash = sha256(convert_to($1, 'utf8'))",
      [token],
    );
    expect(rows[0].n).toBe(0);
    expect((await auth(new Request(`${AUTH}/session`, withBearer(token)))).status).toBe(401);
    expect((await apiKeys(new Request(`${PUBLIC_URL}/functions/v1/api-keys`, withBearer(token)))).status).toBe(401);
  });

  it("answers preflight for the token route and the bearer headers to an allowed origin only", async () => {
    const preflight = (origin: string) =>
      auth(
        new Request(`${AUTH}/token`, {
          method: "OPTIONS",
          headers: {
            origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, authorization",
          },
        }),
      );
    const allowed = await preflight(DASHBOARD);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(DASHBOARD);
    expect(allowed.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    const refused = await preflight("https://evil.example");
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });
});
