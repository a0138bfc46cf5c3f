/**
 * The limits on refused code exchanges and refused sign-ins, through the
 * real Deno server and a real OpenID provider: a client flooding bad codes
 * or forged callbacks gets 429 with Retry-After once past its limit, the
 * flood writes a bounded number of audit events (the refusals admitted, and
 * one throttled event), a malformed body is still a 400 that writes nothing,
 * and a user signing in from another address is unaffected. The local
 * server tells clients apart by their TCP peer, as the platform's gateway
 * does on Supabase.
 */
import { createHash, randomBytes } from "node:crypto";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { until } from "../helpers/call.ts";
import { CookieClient } from "../helpers/cookie-client.ts";
import { fromAddress } from "../helpers/from-address.ts";
import { inFreshWindow } from "../helpers/limit-window.ts";
import { roomInThisMinute } from "../helpers/minute-window.ts";
import { useStack } from "../helpers/stack.ts";

// Share 1: one process admits exactly the limit (limit - 1 + 1 x share) per minute.
const LIMIT = 2;
const FLOOD_MS = 6000;
const DASHBOARD = "https://dashboard.example.test";

let auth: string;

const stack = useStack({
  oidc: true,
  env: { ALLOWED_REDIRECT_ORIGINS: DASHBOARD, AUTH_FAILURES_PER_MINUTE: String(LIMIT) },
});
beforeAll(async () => {
  auth = `${stack.url}/functions/v1/auth`;
});
// Each test spends a per-minute budget: it must not straddle the minute.
beforeEach(() => inFreshWindow());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const random43 = () => randomBytes(32).toString("base64url");

function account(): string {
  const id = `acct-${randomBytes(5).toString("hex")}`;
  stack.oidc.accounts.set(id, { email: `${id}@example.test`, email_verified: true });
  return id;
}

interface AuditRow {
  action: string;
  outcome: string;
  reason: string | null;
  target_user_id: string | null;
  details: Record<string, unknown>;
}

async function eventsAfter(id: number): Promise<AuditRow[]> {
  const { rows } = await stack.admin.query<AuditRow>(
    "select action, outcome, reason, target_user_id, details from public.audit_events where id > $1 order by id",
    [id],
  );
  return rows;
}

async function lastEventId(): Promise<number> {
  const { rows } = await stack.admin.query("select coalesce(max(id), 0)::int as id from public.audit_events");
  return rows[0].id;
}

/** Sends `request()` for FLOOD_MS; returns every answer's status, and checks each 429. */
async function flood(request: () => Promise<Response>): Promise<{ statuses: number[]; wrong: string[] }> {
  const statuses: number[] = [];
  const wrong: string[] = [];
  const started = Date.now();
  while (Date.now() - started < FLOOD_MS) {
    const res = await request();
    statuses.push(res.status);
    if (res.status === 429) {
      const retryAfter = Number(res.headers.get("retry-after"));
      const body = await res.json();
      if (!(retryAfter >= 1 && retryAfter <= 60)) wrong.push(`retry-after ${res.headers.get("retry-after")}`);
      if (body.error?.code !== "rate_limited") wrong.push(JSON.stringify(body));
    } else await res.arrayBuffer();
    await sleep(25);
  }
  return { statuses, wrong };
}

const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

function pkce(): { verifier: string; challenge: string } {
  const verifier = random43();
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

describe("refused code exchanges per client", () => {
  it("answers a flood of bad codes with 429 and Retry-After, writes one throttled event, and serves another address", async () => {
    await roomInThisMinute(FLOOD_MS + 10_000);
    const attacker = fromAddress("127.0.0.2");
    const exchange = (body: unknown, headers: Record<string, string> = { "content-type": "application/json" }) =>
      attacker(
        new Request(`${auth}/token`, {
          method: "POST",
          headers: { origin: DASHBOARD, ...headers },
          body: typeof body === "string" ? body : JSON.stringify(body),
        }),
      );
    const before = await lastEventId();

    const { statuses, wrong } = await flood(() => exchange({ code: random43(), code_verifier: random43() }));
    expect(wrong).toEqual([]);
    expect(count(statuses, 400)).toBe(LIMIT);
    expect(count(statuses, 429)).toBe(statuses.length - LIMIT);
    expect(statuses.length).toBeGreaterThan(20 * LIMIT);

    // Bad input is still a 400 that counts and writes nothing, limited or not.
    const malformed = await exchange({ code: "short", code_verifier: random43() });
    expect([malformed.status, (await malformed.json()).error.code]).toEqual([400, "validation_failed"]);
    expect((await exchange("{", { "content-type": "application/json" })).status).toBe(400);

    // Unknown codes concern no account: one summary for the whole flood, and nothing else.
    const events = await until(
      () => eventsAfter(before),
      (rows) => rows.length > 0,
      3000,
    );
    expect(events).toEqual([
      {
        action: "token.throttled",
        outcome: "failure",
        reason: "rate_limited",
        target_user_id: null,
        details: { scope: "address", limit: LIMIT, window_seconds: 60, refused: LIMIT },
      },
    ]);

    // A user on another address signs in across sites and exchanges their code.
    const { verifier, challenge } = pkce();
    const browser = new CookieClient();
    const query = new URLSearchParams({ redirect_to: `${DASHBOARD}/`, code_challenge: challenge });
    const login = await browser.fetch(`${auth}/login/oidc?${query}`);
    const callback = await browser.fetch(
      await stack.oidc.authorize(login.headers.get("location")!, account(), browser),
    );
    const code = new URLSearchParams(new URL(callback.headers.get("location")!).hash.slice(1)).get("code");
    const exchanged = await fetch(`${auth}/token`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: DASHBOARD },
      body: JSON.stringify({ code, code_verifier: verifier }),
    });
    expect(exchanged.status).toBe(200);
    expect((await exchanged.json()).token_type).toBe("bearer");
    expect(await eventsAfter(before)).toHaveLength(1 + 1); // and its sign-in event
  }, 60_000);
});

describe("refused sign-ins per client", () => {
  it("answers a flood of forged callbacks with 429, records the first refusals and one throttled event, and lets another address sign in", async () => {
    await roomInThisMinute(FLOOD_MS + 10_000);
    const attacker = new CookieClient({ [stack.url]: fromAddress("127.0.0.3") });
    // A real login cookie, replayed with a forged state on every callback.
    await attacker.fetch(`${auth}/login/oidc?redirect_to=%2F`);
    const sealed = attacker.get(`${auth}/callback/oidc`, "kg_login")!;
    expect(sealed).toBeTruthy();
    const forge = fromAddress("127.0.0.3");
    const before = await lastEventId();

    const { statuses, wrong } = await flood(() =>
      forge(
        new Request(`${auth}/callback/oidc?state=${random43()}&code=${random43()}`, {
          headers: { cookie: `kg_login=${sealed}` },
        }),
      ),
    );
    expect(wrong).toEqual([]);
    expect(count(statuses, 302)).toBe(LIMIT);
    expect(count(statuses, 429)).toBe(statuses.length - LIMIT);

    const events = await until(
      () => eventsAfter(before),
      (rows) => rows.some((r) => r.action === "sign_in.throttled"),
      3000,
    );
    expect(events).toEqual([
      ...Array(LIMIT).fill({
        action: "sign_in",
        outcome: "failure",
        reason: "state_mismatch",
        target_user_id: null,
        details: { provider: "oidc" },
      }),
      {
        action: "sign_in.throttled",
        outcome: "failure",
        reason: "rate_limited",
        target_user_id: null,
        details: { provider: "oidc", scope: "address", limit: LIMIT, window_seconds: 60, refused: LIMIT },
      },
    ]);

    // The throttled answer still clears the login cookie.
    const throttled = await forge(
      new Request(`${auth}/callback/oidc?state=x`, { headers: { cookie: `kg_login=${sealed}` } }),
    );
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("cache-control")).toBe("no-store");
    expect(throttled.headers.getSetCookie()).toEqual([expect.stringMatching(/^kg_login=; .*Max-Age=0/)]);

    // Someone else signs in meanwhile.
    const browser = new CookieClient();
    const login = await browser.fetch(`${auth}/login/oidc?redirect_to=%2F`);
    const done = await browser.fetch(await stack.oidc.authorize(login.headers.get("location")!, account(), browser));
    expect(done.status).toBe(302);
    expect(done.headers.get("location")).toBe(`${stack.url}/`);
    expect(done.headers.getSetCookie().some((c) => c.startsWith("kg_session="))).toBe(true);
  }, 60_000);
});
