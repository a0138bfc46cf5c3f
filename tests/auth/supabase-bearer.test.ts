/**
 * Supabase Auth access tokens as `Authorization: Bearer`: verified with jose
 * against SUPABASE_JWKS (inline) or SUPABASE_JWKS_URL (remote), the user
 * linked as identity (supabase, sub) without a write on every request.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT, UnsecuredJWT } from "jose";
import { loadConfig } from "../../functions/_shared/config.ts";
import { createAuthHandler } from "../../functions/_shared/auth/handler.ts";
import { createUserResolver } from "../../functions/_shared/auth/require-user.ts";
import { recordSignIn } from "../../functions/_shared/auth/sign-in.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { authTables } from "./db-state.ts";

const PUBLIC_URL = "http://127.0.0.1:54321";
const SESSION = `${PUBLIC_URL}/functions/v1/auth/session`;
let database: TestDatabase;
let key: CryptoKey;
let jwks: string;
let now = Date.now();
let handler: (req: Request) => Promise<Response>;

beforeAll(async () => {
  database = await createTestDatabase();
  const pair = await generateKeyPair("ES256", { extractable: true });
  key = pair.privateKey;
  jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: "supabase-1", alg: "ES256", use: "sig" }] });
  const config = loadConfig({ KEYGATE_ENV: "development", PUBLIC_URL, SESSION_SECRET: "x", SUPABASE_JWKS: jwks });
  handler = createAuthHandler({ config, db: database.db, providers: new Map(), now: () => now, log: () => {} });
});

afterAll(async () => {
  await database?.drop();
});

function claimsFor(sub: string, extra: JWTPayload = {}): JWTPayload {
  return {
    sub,
    aud: "authenticated",
    role: "authenticated",
    email: `${sub.slice(0, 8)}@example.test`,
    user_metadata: { email_verified: true, full_name: "Grace Hopper", avatar_url: "https://img.example/g.png" },
    ...extra,
  };
}

async function token(claims: JWTPayload, signWith: CryptoKey = key, kid = "supabase-1", exp = "1h"): Promise<string> {
  return await new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid })
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(exp === "past" ? Math.floor(now / 1000) - 10 : Math.floor(now / 1000) + 3600)
    .sign(signWith);
}

function bearer(jwt: string): Promise<Response> {
  return handler(new Request(SESSION, { headers: { authorization: `Bearer ${jwt}` } }));
}

describe("Supabase access tokens", () => {
  it("signs a Supabase user in, reusing their id, as identity (supabase, sub)", async () => {
    const sub = randomUUID();
    const res = await bearer(await token(claimsFor(sub)));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: sub,
      email: `${sub.slice(0, 8)}@example.test`,
      name: "Grace Hopper",
      image_url: "https://img.example/g.png",
      role: "viewer",
    });
    const { rows } = await database.admin.query("select user_id from public.user_identities where provider = 'supabase' and subject = $1", [sub]);
    expect(rows).toEqual([{ user_id: sub }]);
  });

  it("writes nothing on later requests, and refreshes the profile at most hourly", async () => {
    const sub = randomUUID();
    expect((await bearer(await token(claimsFor(sub)))).status).toBe(200);
    const before = await authTables(database.admin);
    const renamed = claimsFor(sub, { user_metadata: { email_verified: true, name: "G. Hopper" } });
    expect((await bearer(await token(renamed))).status).toBe(200);
    expect(await authTables(database.admin)).toBe(before);

    now += 2 * 3600 * 1000;
    try {
      const res = await bearer(await token(renamed));
      expect((await res.json()).name).toBe("G. Hopper");
    } finally {
      now -= 2 * 3600 * 1000;
    }
  });

  const refusals: [string, () => Promise<string>][] = [
    ["a token signed by an unknown key", async () => token(claimsFor(randomUUID()), (await generateKeyPair("ES256")).privateKey)],
    ["a token signed by an unknown key under the known kid", async () => token(claimsFor(randomUUID()), (await generateKeyPair("ES256")).privateKey, "supabase-1")],
    ["an expired token", async () => token(claimsFor(randomUUID()), key, "supabase-1", "past")],
    ["a token for another audience", async () => token(claimsFor(randomUUID(), { aud: "anon" }))],
    ["a token without an audience", async () => token(claimsFor(randomUUID(), { aud: undefined }))],
    ["an alg: none token", async () => new UnsecuredJWT(claimsFor(randomUUID())).setExpirationTime("1h").encode()],
    ["an HS256 token signed with the public key's bytes", async () =>
      new SignJWT(claimsFor(randomUUID())).setProtectedHeader({ alg: "HS256", kid: "supabase-1" }).setExpirationTime("1h").sign(new TextEncoder().encode(jwks))],
    ["an anonymous Supabase user", async () => token(claimsFor(randomUUID(), { is_anonymous: true }))],
    ["a tampered token", async () => {
      const [h, , s] = (await token(claimsFor(randomUUID()))).split(".");
      const payload = Buffer.from(JSON.stringify({ ...claimsFor(randomUUID()), exp: Math.floor(now / 1000) + 3600 })).toString("base64url");
      return `${h}.${payload}.${s}`;
    }],
  ];
  for (const [what, make] of refusals) {
    it(`refuses ${what} with 401 and no write`, async () => {
      const jwt = await make();
      const before = await authTables(database.admin);
      const res = await bearer(jwt);
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe("unauthorized");
      expect(await authTables(database.admin)).toBe(before);
    });
  }

  it("refuses a new user whose email Supabase has not confirmed (403, no write)", async () => {
    const jwt = await token(claimsFor(randomUUID(), { user_metadata: { full_name: "Unconfirmed" } }));
    const before = await authTables(database.admin);
    const res = await bearer(jwt);
    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe("email_unverified");
    expect(await authTables(database.admin)).toBe(before);
  });

  it("refuses an inactive user", async () => {
    const sub = randomUUID();
    const jwt = await token(claimsFor(sub));
    expect((await bearer(jwt)).status).toBe(200);
    await database.admin.query("update public.users set is_active = false where id = $1", [sub]);
    expect((await bearer(jwt)).status).toBe(401);
  });

  it("falls back to the session cookie when the bearer is not a user token (e.g. the anon key)", async () => {
    const { token: session, userId } = await recordSignIn(database.db, "oidc", {
      subject: randomUUID(),
      email: `${randomUUID()}@example.test`,
      emailVerified: true,
      name: null,
      imageUrl: null,
    });
    const anonKey = await token({ role: "anon", aud: "anon", sub: "anon" });
    const res = await handler(new Request(SESSION, { headers: { authorization: `Bearer ${anonKey}`, cookie: `kg_session=${session}` } }));
    expect(res.status).toBe(200);
    expect((await res.json()).id).toBe(userId);
  });

  it("tells the caller how the user was authenticated", async () => {
    const config = loadConfig({ KEYGATE_ENV: "development", PUBLIC_URL, SUPABASE_JWKS: jwks });
    const resolve = createUserResolver({ config, db: database.db, now: () => now });
    const user = await resolve(new Request(SESSION, { headers: { authorization: `Bearer ${await token(claimsFor(randomUUID()))}` } }));
    expect(user.via).toBe("bearer");
  });
});

describe("SUPABASE_JWKS_URL", () => {
  let server: http.Server;
  let jwksUrl: string;
  let fetches = 0;
  let up = true;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      fetches += 1;
      if (!up) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(jwks);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/v1/.well-known/jwks.json`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("verifies tokens against a remote key set, fetched once and cached", async () => {
    const config = loadConfig({ KEYGATE_ENV: "development", PUBLIC_URL, SESSION_SECRET: "x", SUPABASE_JWKS_URL: jwksUrl });
    const remote = createAuthHandler({ config, db: database.db, providers: new Map(), log: () => {} });
    for (let i = 0; i < 3; i++) {
      const res = await remote(new Request(SESSION, { headers: { authorization: `Bearer ${await token(claimsFor(randomUUID()))}` } }));
      expect(res.status).toBe(200);
    }
    expect(fetches).toBe(1);
  });

  it("answers 503 when the key set cannot be fetched, not 401", async () => {
    up = false;
    try {
      const config = loadConfig({ KEYGATE_ENV: "development", PUBLIC_URL, SESSION_SECRET: "x", SUPABASE_JWKS_URL: jwksUrl });
      const remote = createAuthHandler({ config, db: database.db, providers: new Map(), log: () => {} });
      const res = await remote(new Request(SESSION, { headers: { authorization: `Bearer ${await token(claimsFor(randomUUID()))}` } }));
      expect(res.status).toBe(503);
      expect((await res.json()).error.code).toBe("service_unavailable");
    } finally {
      up = true;
    }
  });

  it("refuses a plain-http key set URL that is not on loopback", () => {
    expect(() => loadConfig({ KEYGATE_ENV: "development", SUPABASE_JWKS_URL: "http://example.com/jwks.json" })).toThrow(/https/);
  });
});
