/**
 * GitHub sign-in, in-process, with GitHub's API played by msw (nothing real
 * can run here): private emails, no verified email, provider outages.
 */
import { createHash } from "node:crypto";
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import { createAuthHandler } from "../../functions/_shared/handlers/auth/handler.ts";
import { CookieClient } from "../helpers/cookie-client.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { authTables } from "./db-state.ts";

const PUBLIC_URL = "http://127.0.0.1:54321";
const AUTH = `${PUBLIC_URL}/functions/v1/auth`;
const TOKEN = "gho_test_access_token";

interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
  visibility: string | null;
}

let database: TestDatabase;
let handler: (req: Request) => Promise<Response>;
let tokenRequests: URLSearchParams[] = [];

function github(
  options: { emails?: GithubEmail[]; userStatus?: number; tokenStatus?: number; tokenBody?: object } = {},
) {
  return [
    http.post("https://github.com/login/oauth/access_token", async ({ request }) => {
      tokenRequests.push(new URLSearchParams(await request.text()));
      if (options.tokenStatus) return new HttpResponse("upstream trouble", { status: options.tokenStatus });
      return HttpResponse.json(
        options.tokenBody ?? { access_token: TOKEN, token_type: "bearer", scope: "read:user,user:email" },
      );
    }),
    http.get("https://api.github.com/user", ({ request }) => {
      if (request.headers.get("authorization") !== `Bearer ${TOKEN}`) return new HttpResponse(null, { status: 401 });
      if (options.userStatus) return HttpResponse.json({ message: "Server Error" }, { status: options.userStatus });
      return HttpResponse.json({
        id: 583231,
        login: "octocat",
        name: "The Octocat",
        email: null,
        avatar_url: "https://avatars.githubusercontent.com/u/583231",
      });
    }),
    http.get("https://api.github.com/user/emails", ({ request }) => {
      if (request.headers.get("authorization") !== `Bearer ${TOKEN}`) return new HttpResponse(null, { status: 401 });
      return HttpResponse.json(options.emails ?? []);
    }),
  ];
}

const mockServer = setupServer();

beforeAll(async () => {
  mockServer.listen({ onUnhandledRequest: "error" });
  database = await createTestDatabase();
  const config = loadConfig({
    KEYGATE_ENV: "development",
    PUBLIC_URL,
    SESSION_SECRET: "x",
    OAUTH_GITHUB_CLIENT_ID: "gh-client",
    OAUTH_GITHUB_CLIENT_SECRET: "gh-secret",
    // These refuse one account several times within seconds; the refusal limits have a suite of their own.
    AUTH_ACCOUNT_FAILURES_PER_MINUTE: "100",
  });
  handler = createAuthHandler({ config, db: database.db, log: () => {} });
});

afterEach(() => {
  mockServer.resetHandlers();
  tokenRequests = [];
});

afterAll(async () => {
  mockServer.close();
  await database?.drop();
});

/** Starts a sign-in; returns the browser and the authorize URL it was sent to. */
async function startLogin(): Promise<{ browser: CookieClient; authorize: URL }> {
  const browser = new CookieClient({ [PUBLIC_URL]: handler });
  const res = await browser.fetch(`${AUTH}/login/github`);
  expect(res.status).toBe(302);
  return { browser, authorize: new URL(res.headers.get("location")!) };
}

function callbackFor(authorize: URL, params: Record<string, string> = { code: "gh-code" }): URL {
  const url = new URL(`${AUTH}/callback/github`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  url.searchParams.set("state", authorize.searchParams.get("state")!);
  return url;
}

describe("GitHub sign-in", () => {
  it("sends the browser to GitHub with state and PKCE S256", async () => {
    const { authorize } = await startLogin();
    expect(`${authorize.origin}${authorize.pathname}`).toBe("https://github.com/login/oauth/authorize");
    expect(authorize.searchParams.get("client_id")).toBe("gh-client");
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${AUTH}/callback/github`);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("scope")).toBe("read:user user:email");
  });

  it("takes the primary verified email from /user/emails when /user hides it", async () => {
    mockServer.use(
      ...github({
        emails: [
          { email: "old@example.test", primary: false, verified: true, visibility: null },
          { email: "octo.private@example.test", primary: true, verified: true, visibility: "private" },
        ],
      }),
    );
    const { browser, authorize } = await startLogin();
    const res = await browser.fetch(callbackFor(authorize));
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${PUBLIC_URL}/`);

    const [sent] = tokenRequests;
    expect(sent.get("code")).toBe("gh-code");
    expect(sent.get("redirect_uri")).toBe(`${AUTH}/callback/github`);
    const challenge = createHash("sha256").update(sent.get("code_verifier")!).digest("base64url");
    expect(challenge).toBe(authorize.searchParams.get("code_challenge"));

    const me = await (await browser.fetch(`${AUTH}/session`)).json();
    expect(me).toMatchObject({
      email: "octo.private@example.test",
      name: "The Octocat",
      image_url: "https://avatars.githubusercontent.com/u/583231",
    });
    const { rows } = await database.admin.query(
      "select provider, subject from public.user_identities where user_id = $1",
      [me.id],
    );
    expect(rows).toEqual([{ provider: "github", subject: "583231" }]);
  });

  const refusals: [string, Parameters<typeof github>[0], string][] = [
    [
      "no verified email",
      {
        emails: [
          { email: "unverified@example.test", primary: true, verified: false, visibility: "private" },
          { email: "other@example.test", primary: false, verified: true, visibility: null },
        ],
      },
      "email_unverified",
    ],
    ["no email at all", { emails: [] }, "email_unverified"],
    ["a 500 from the GitHub API", { userStatus: 500 }, "provider_error"],
    ["a 500 from the token endpoint", { tokenStatus: 500 }, "provider_error"],
    [
      "a refused code (GitHub answers 200 with an error)",
      {
        tokenBody: { error: "bad_verification_code", error_description: "The code passed is incorrect or expired." },
      },
      "provider_error",
    ],
  ];
  for (const [what, behaviour, code] of refusals) {
    it(`refuses ${what} with ${code} and writes nothing`, async () => {
      mockServer.use(...github(behaviour));
      const { browser, authorize } = await startLogin();
      const before = await authTables(database.admin);
      const res = await browser.fetch(callbackFor(authorize));
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toBe(`${PUBLIC_URL}/?error=${code}`);
      expect(res.headers.getSetCookie().some((c) => c.startsWith("kg_session="))).toBe(false);
      expect(browser.get(`${AUTH}/callback/github`, "kg_login")).toBeUndefined();
      expect(await authTables(database.admin)).toBe(before);
    });
  }

  it("reports access_denied when the user cancels at GitHub, without calling GitHub", async () => {
    mockServer.use(...github());
    const { browser, authorize } = await startLogin();
    const before = await authTables(database.admin);
    const res = await browser.fetch(
      callbackFor(authorize, {
        error: "access_denied",
        error_description: "The user has denied your application access.",
      }),
    );
    expect(res.headers.get("location")).toBe(`${PUBLIC_URL}/?error=access_denied`);
    expect(tokenRequests).toHaveLength(0);
    expect(await authTables(database.admin)).toBe(before);
  });

  it("answers 404 for the callback of a provider that is not configured", async () => {
    mockServer.use(...github());
    const { browser, authorize } = await startLogin();
    const res = await browser.fetch(callbackFor(authorize).href.replace("/callback/github", "/callback/oidc"));
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe("unknown_provider");
  });
});
