/**
 * Dashboard sessions against real Postgres: the cookie works until logout,
 * expiry or deactivation; forged, tampered and expired tokens are refused.
 */

import { UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSessionToken } from "../../functions/_shared/auth/sessions.ts";
import { recordSignIn } from "../../functions/_shared/auth/sign-in.ts";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import { createAuthHandler } from "../../functions/_shared/handlers/auth/handler.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { authTables } from "./db-state.ts";

const PUBLIC_URL = "http://127.0.0.1:54321";
const AUTH = `${PUBLIC_URL}/functions/v1/auth`;
let database: TestDatabase;
let handler: (req: Request) => Promise<Response>;
let counter = 0;

beforeAll(async () => {
  database = await createTestDatabase();
  const config = loadConfig({
    KEYGATE_ENV: "development",
    PUBLIC_URL,
    SESSION_SECRET: "x",
    ALLOWED_REDIRECT_ORIGINS: "https://app.example.com",
  });
  handler = createAuthHandler({ config, db: database.db, providers: new Map(), log: () => {} });
});

afterAll(async () => {
  await database?.drop();
});

async function signedIn(): Promise<{ token: string; userId: string; email: string }> {
  counter += 1;
  const email = `session${counter}@example.test`;
  const result = await recordSignIn(database.db, "oidc", {
    subject: `sub-${counter}`,
    email,
    emailVerified: true,
    name: `Session ${counter}`,
    imageUrl: "https://img.example/a.png",
  });
  return { ...result, email };
}

function session(token: string, name = "kg_session"): Promise<Response> {
  return handler(new Request(`${AUTH}/session`, { headers: { cookie: `${name}=${token}` } }));
}

function logout(token: string | null, origin?: string | null): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token) headers.cookie = `kg_session=${token}`;
  if (origin) headers.origin = origin;
  return handler(new Request(`${AUTH}/logout`, { method: "POST", headers }));
}

async function sessionRow(token: string) {
  const { rows } = await database.admin.query(
    `select created_at, last_seen_at, expires_at, extract(epoch from expires_at - now())::int as left_s
       from public.sessions where token_hash = $1`,
    [Buffer.from(hashSessionToken(token))],
  );
  return rows[0];
}

describe("GET /auth/session", () => {
  it("returns the signed-in user", async () => {
    const { token, userId, email } = await signedIn();
    const res = await session(token);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({
      id: userId,
      email,
      name: `Session ${counter}`,
      image_url: "https://img.example/a.png",
      role: "viewer",
    });
  });

  it("stores only the token's SHA-256", async () => {
    const { token } = await signedIn();
    const { rows } = await database.admin.query(
      "select count(*)::int as n from public.sessions where token_hash = $1",
      [Buffer.from(token)],
    );
    expect(rows[0].n).toBe(0);
    expect(await sessionRow(token)).toBeDefined();
  });

  it("answers 401 without a cookie", async () => {
    const res = await handler(new Request(`${AUTH}/session`));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
  });

  it("refuses forged, tampered and malformed session tokens without changing anything", async () => {
    const { token } = await signedIn();
    const flipped = token.slice(0, 10) + (token[10] === "A" ? "B" : "A") + token.slice(11);
    const forged = [
      flipped,
      Buffer.alloc(32, 7).toString("base64url"),
      `${token}A`,
      token.slice(0, -1),
      `${token}.sig`,
      new UnsecuredJWT({ sub: "anyone", role: "admin" }).encode(),
      "",
    ];
    const before = await authTables(database.admin);
    for (const value of forged) expect((await session(value)).status).toBe(401);
    expect(await authTables(database.admin)).toBe(before);
    expect((await session(token)).status).toBe(200);
  });

  it("ignores the __Host- cookie name on an http PUBLIC_URL (and the plain name is what counts)", async () => {
    const { token } = await signedIn();
    expect((await session(token, "__Host-kg_session")).status).toBe(401);
  });

  it("refuses an expired session", async () => {
    const { token } = await signedIn();
    await database.admin.query(
      "update public.sessions set expires_at = now() - interval '1 second' where token_hash = $1",
      [Buffer.from(hashSessionToken(token))],
    );
    expect((await session(token)).status).toBe(401);
  });

  it("slides a session on use by 12 hours, never past 7 days after sign-in", async () => {
    const { token } = await signedIn();
    const hash = Buffer.from(hashSessionToken(token));
    expect((await sessionRow(token)).left_s).toBeGreaterThan(12 * 3600 - 60);

    await database.admin.query(
      "update public.sessions set last_seen_at = now() - interval '2 minutes', expires_at = now() + interval '1 minute' where token_hash = $1",
      [hash],
    );
    expect((await session(token)).status).toBe(200);
    expect((await sessionRow(token)).left_s).toBeGreaterThan(12 * 3600 - 60);

    await database.admin.query(
      `update public.sessions set created_at = now() - interval '7 days' + interval '30 seconds',
              last_seen_at = now() - interval '2 minutes', expires_at = now() + interval '1 minute' where token_hash = $1`,
      [hash],
    );
    expect((await session(token)).status).toBe(200);
    const row = await sessionRow(token);
    expect(row.left_s).toBeLessThanOrEqual(30);
    expect(row.expires_at.getTime() - row.created_at.getTime()).toBe(7 * 24 * 3600 * 1000);
  });

  it("stops every session of a user set inactive, at once", async () => {
    const { token, userId } = await signedIn();
    expect((await session(token)).status).toBe(200);
    await database.admin.query("update public.users set is_active = false where id = $1", [userId]);
    expect((await session(token)).status).toBe(401);
  });
});

describe("POST /auth/logout", () => {
  it("ends the session server-side: a copied cookie stops working", async () => {
    const { token } = await signedIn();
    const res = await logout(token, PUBLIC_URL);
    expect(res.status).toBe(204);
    expect(res.headers.getSetCookie()).toEqual([
      "kg_session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax",
    ]);
    expect(await sessionRow(token)).toBeUndefined();
    expect((await session(token)).status).toBe(401);
  });

  it("accepts an allowed dashboard origin", async () => {
    const { token } = await signedIn();
    expect((await logout(token, "https://app.example.com")).status).toBe(204);
    expect((await session(token)).status).toBe(401);
  });

  it("refuses a cross-site logout (CSRF) and keeps the session", async () => {
    const { token } = await signedIn();
    for (const origin of ["https://evil.example", "null", null]) {
      const res = await logout(token, origin);
      expect(res.status).toBe(403);
      expect((await res.json()).error.code).toBe("csrf_origin_mismatch");
    }
    expect((await session(token)).status).toBe(200);
  });

  it("answers 204 without a session", async () => {
    expect((await logout(null)).status).toBe(204);
  });

  it("answers 405 to GET", async () => {
    const res = await handler(new Request(`${AUTH}/logout`));
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST, OPTIONS");
  });
});

describe("CORS", () => {
  it("answers preflight for an allowed origin with credentials", async () => {
    const res = await handler(
      new Request(`${AUTH}/logout`, {
        method: "OPTIONS",
        headers: { origin: "https://app.example.com", "access-control-request-method": "POST" },
      }),
    );
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
  });

  it("grants nothing to another origin", async () => {
    const res = await handler(new Request(`${AUTH}/session`, { headers: { origin: "https://evil.example" } }));
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
