/**
 * The refusal limits per account, and what never counts, with the auth
 * handler in-process against a real OpenID provider and real Postgres. The
 * client address comes from `cf-connecting-ip` (no local server vouches for
 * a peer here), and the shared counters are flushed by the test, so each
 * attempt sees the cluster's count.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import { KeygateError } from "../../functions/_shared/core/errors.ts";
import { flushToDatabase } from "../../functions/_shared/counters/flush-to-database.ts";
import { SharedCounters } from "../../functions/_shared/counters/shared-counters.ts";
import type { Db } from "../../functions/_shared/db/db.ts";
import { createAuthHandler } from "../../functions/_shared/handlers/auth/handler.ts";
import { EXCHANGE_SIGN_IN_CODE } from "../../functions/_shared/handlers/auth/token.ts";
import { until } from "../helpers/call.ts";
import { CookieClient } from "../helpers/cookie-client.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { roomInThisMinute } from "../helpers/minute-window.ts";
import { startOidcProvider, type TestOidcProvider } from "../helpers/oidc.ts";

const PUBLIC_URL = "http://127.0.0.1:9"; // never contacted: its requests are answered in-process
const AUTH = `${PUBLIC_URL}/functions/v1/auth`;
const DASHBOARD = "https://dashboard.example.test";
const ACCOUNT_LIMIT = 3; // share 1

let database: TestDatabase;
let oidc: TestOidcProvider;

beforeAll(async () => {
  database = await createTestDatabase();
  oidc = await startOidcProvider({ redirectUris: () => [`${AUTH}/callback/oidc`] });
});
afterAll(async () => {
  await oidc?.stop();
  await database?.drop();
});

function handler(db: Db = database.db) {
  const config = loadConfig({
    KEYGATE_ENV: "development",
    PUBLIC_URL,
    SESSION_SECRET: "test-secret-for-the-login-state-cookie",
    OIDC_ISSUER: oidc.issuer,
    OIDC_CLIENT_ID: oidc.clientId,
    OIDC_CLIENT_SECRET: oidc.clientSecret,
    ALLOWED_REDIRECT_ORIGINS: DASHBOARD,
    AUTH_FAILURES_PER_MINUTE: "100",
    AUTH_ACCOUNT_FAILURES_PER_MINUTE: String(ACCOUNT_LIMIT),
  });
  // Flushed by the tests only.
  const counters = new SharedCounters({ flush: flushToDatabase(database.db), intervalMs: 3_600_000 });
  return { auth: createAuthHandler({ config, db, counters, log: () => {} }), counters };
}

let addresses = 0;
const freshAddress = () => `198.51.100.${++addresses}`;

function account(): string {
  const id = `acct-${randomBytes(5).toString("hex")}`;
  oidc.accounts.set(id, { email: `${id}@example.test`, email_verified: true });
  return id;
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** A browser whose requests to the auth function come from `address`. */
function browserAt(auth: (req: Request) => Promise<Response>, address: string): CookieClient {
  return new CookieClient({
    [PUBLIC_URL]: (req) => {
      const headers = new Headers(req.headers);
      headers.set("cf-connecting-ip", address);
      return auth(new Request(req, { headers }));
    },
  });
}

async function signIn(browser: CookieClient, id: string, query: Record<string, string> = { redirect_to: "/" }) {
  const login = await browser.fetch(`${AUTH}/login/oidc?${new URLSearchParams(query)}`);
  return await browser.fetch(await oidc.authorize(login.headers.get("location")!, id, browser));
}

async function eventsOf(action: string) {
  const { rows } = await database.admin.query(
    "select reason, target_user_id, details from public.audit_events where action = $1 order by id",
    [action],
  );
  return rows;
}

describe("refused code exchanges per account", () => {
  it("limits refusals of a user's code from any address, records them for the user, and never locks the user out", async () => {
    await roomInThisMinute(15_000);
    const { auth, counters } = handler();
    const { verifier, challenge } = pkce();
    const callback = await signIn(browserAt(auth, freshAddress()), account(), {
      redirect_to: `${DASHBOARD}/`,
      code_challenge: challenge,
    });
    const code = new URLSearchParams(new URL(callback.headers.get("location")!).hash.slice(1)).get("code");
    const { rows } = await database.admin.query(
      "select user_id from public.sign_in_codes where code_hash = sha256(convert_to($1, 'utf8'))",
      [code],
    );
    const userId = rows[0].user_id;
    const exchange = (codeVerifier: string) =>
      auth(
        new Request(`${AUTH}/token`, {
          method: "POST",
          headers: { "content-type": "application/json", origin: DASHBOARD, "cf-connecting-ip": freshAddress() },
          body: JSON.stringify({ code, code_verifier: codeVerifier }),
        }),
      );

    const statuses: number[] = [];
    for (let i = 0; i < ACCOUNT_LIMIT + 3; i++) {
      const res = await exchange(pkce().verifier);
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      await counters.flush();
    }
    expect(statuses).toEqual([...Array(ACCOUNT_LIMIT).fill(400), 429, 429, 429]);
    expect(await eventsOf("token")).toEqual(
      Array(ACCOUNT_LIMIT).fill({ reason: "invalid_grant", target_user_id: userId, details: {} }),
    );
    expect(
      await until(
        () => eventsOf("token.throttled"),
        (e) => e.length > 0,
        3000,
      ),
    ).toEqual([
      {
        reason: "rate_limited",
        target_user_id: userId,
        details: { scope: "account", limit: ACCOUNT_LIMIT, window_seconds: 60, refused: ACCOUNT_LIMIT },
      },
    ]);
    // The right verifier still works: the limit bounds refusals, not the user.
    expect((await exchange(verifier)).status).toBe(200);
  });
});

describe("refused sign-ins per account", () => {
  it("limits an identity's refusals from any address before anything is written for it", async () => {
    await roomInThisMinute(15_000);
    const { auth, counters } = handler();
    const id = account();
    expect((await signIn(browserAt(auth, freshAddress()), id)).status).toBe(302);
    const email = `${id}@example.test`;
    await database.admin.query("update public.users set is_active = false where email = $1", [email]);

    const answers: string[] = [];
    for (let i = 0; i < ACCOUNT_LIMIT + 2; i++) {
      const res = await signIn(browserAt(auth, freshAddress()), id);
      answers.push(res.status === 302 ? new URL(res.headers.get("location")!).search : String(res.status));
      await counters.flush();
    }
    expect(answers).toEqual([...Array(ACCOUNT_LIMIT).fill("?error=user_inactive"), "429", "429"]);
    const refusals = (await eventsOf("sign_in")).filter((e) => e.reason === "user_inactive");
    expect(refusals).toHaveLength(ACCOUNT_LIMIT);
    const throttled = await until(
      () => eventsOf("sign_in.throttled"),
      (e) => e.length > 0,
      3000,
    );
    expect(throttled).toEqual([
      {
        reason: "rate_limited",
        target_user_id: null,
        details: {
          provider: "oidc",
          scope: "account",
          limit: ACCOUNT_LIMIT,
          window_seconds: 60,
          refused: ACCOUNT_LIMIT,
        },
      },
    ]);
    // No subject is kept in the counters: the identity is a hash.
    const { rows } = await database.admin.query("select bucket from public.shared_counters where bucket like $1", [
      "auth_account_failures:identity:%",
    ]);
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain(id);
  });
});

describe("what counts against no limit", () => {
  it("a failure on our side: an unreachable database is a 503 however often, never a 429", async () => {
    const failing: Db = {
      query: (text, values) =>
        text === EXCHANGE_SIGN_IN_CODE
          ? Promise.reject(new KeygateError("service_unavailable", "down", { headers: { "retry-after": "1" } }))
          : database.db.query(text, values),
      end: async () => {},
    };
    const { auth, counters } = handler(failing);
    const address = freshAddress();
    for (let i = 0; i < 5; i++) {
      const res = await auth(
        new Request(`${AUTH}/token`, {
          method: "POST",
          headers: { "content-type": "application/json", origin: DASHBOARD, "cf-connecting-ip": address },
          body: JSON.stringify({ code: pkce().verifier, code_verifier: pkce().verifier }),
        }),
      );
      expect(res.status).toBe(503);
      await counters.flush();
    }
  });

  it("bad input: malformed bodies are 400s that count and write nothing", async () => {
    const { auth, counters } = handler();
    const address = freshAddress();
    const before = await database.admin.query("select count(*)::int as n from public.shared_counters");
    const post = (body: string) =>
      auth(
        new Request(`${AUTH}/token`, {
          method: "POST",
          headers: { "content-type": "application/json", origin: DASHBOARD, "cf-connecting-ip": address },
          body,
        }),
      );
    for (let i = 0; i < 5; i++) {
      expect((await post('{"code": "x"}')).status).toBe(400);
      expect((await post("{")).status).toBe(400);
      await counters.flush();
    }
    const after = await database.admin.query("select count(*)::int as n from public.shared_counters");
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });
});
