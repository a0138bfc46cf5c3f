/**
 * Supabase Auth access tokens as `Authorization: Bearer`: verified with jose
 * against SUPABASE_JWKS (inline) or SUPABASE_JWKS_URL (remote), the user
 * linked as identity (supabase, sub) without a write on every request.
 */

import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, exportJWK, generateKeyPair, type JWTPayload, SignJWT, UnsecuredJWT } from "jose";
import { HttpResponse, http as mock } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createUserResolver } from "../../functions/_shared/auth/require-user.ts";
import { recordSignIn } from "../../functions/_shared/auth/sign-in.ts";
import { createSupabaseTokenVerifier, LEGACY_SECRET_MESSAGE } from "../../functions/_shared/auth/supabase-token.ts";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import { createApiKeysHandler } from "../../functions/_shared/handlers/api-keys/handler.ts";
import { createAuthHandler } from "../../functions/_shared/handlers/auth/handler.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { insertKey } from "../helpers/keys.ts";
import { authTables } from "./db-state.ts";

const PUBLIC_URL = "http://127.0.0.1:54321";
const SESSION = `${PUBLIC_URL}/functions/v1/auth/session`;
const API_KEYS = `${PUBLIC_URL}/functions/v1/api-keys`;
/** A hosted project's URL; its Auth server is played by msw (the real one cannot run here). */
const SUPABASE_URL = "https://abcdefghijklmnopqrst.supabase.co";
const ISSUER = `${SUPABASE_URL}/auth/v1`;
const PUBLISHABLE_KEY = "sb_publishable_test-key";
let database: TestDatabase;
let key: CryptoKey;
let jwk: Record<string, unknown>;
let jwks: string;
let now = Date.now();
let handler: (req: Request) => Promise<Response>;
let apiKeys: (req: Request) => Promise<Response>;

/**
 * Supabase Auth's own records, as `GET /auth/v1/user` reports them: the
 * stand-in answers for a token's `sub` from here (unlisted: confirmed, with
 * the token's email), and refuses a request without the project's apikey
 * as Supabase's gateway does.
 */
const authUsers = new Map<string, { email: string; confirmed: boolean } | "signed-out">();
let authCalls = 0;
let authDown = false;
const supabaseAuth = setupServer(
  mock.get(`${ISSUER}/user`, ({ request }) => {
    authCalls += 1;
    if (authDown) return new HttpResponse(null, { status: 502 });
    if (request.headers.get("apikey") !== PUBLISHABLE_KEY)
      return HttpResponse.json({ message: "Invalid API key" }, { status: 401 });
    const claims = decodeJwt(request.headers.get("authorization")!.replace(/^Bearer /, ""));
    const record = authUsers.get(claims.sub!) ?? { email: claims.email as string, confirmed: true };
    if (record === "signed-out")
      return HttpResponse.json({ code: 403, error_code: "session_not_found" }, { status: 403 });
    return HttpResponse.json({
      id: claims.sub,
      aud: "authenticated",
      role: "authenticated",
      email: record.email,
      email_confirmed_at: record.confirmed ? new Date(now).toISOString() : null,
      user_metadata: claims.user_metadata ?? {},
    });
  }),
);

function env(extra: Record<string, string> = {}) {
  return {
    KEYGATE_ENV: "development",
    PUBLIC_URL,
    SESSION_SECRET: "x",
    SUPABASE_URL,
    SUPABASE_JWKS: jwks,
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: PUBLISHABLE_KEY }),
    ...extra,
  };
}

beforeAll(async () => {
  // Only Supabase Auth is played by msw; the loopback JWKS server below is real.
  supabaseAuth.listen({
    onUnhandledRequest: (req, print) => void (new URL(req.url).hostname === "127.0.0.1" || print.error()),
  });
  database = await createTestDatabase();
  const pair = await generateKeyPair("ES256", { extractable: true });
  key = pair.privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: "supabase-1", alg: "ES256", use: "sig" };
  jwks = JSON.stringify({ keys: [jwk] });
  const config = loadConfig(env());
  const resolveUser = createUserResolver({ config, db: database.db, now: () => now });
  handler = createAuthHandler({ config, db: database.db, providers: new Map(), now: () => now, log: () => {} });
  apiKeys = createApiKeysHandler({ config, db: database.db, resolveUser, log: () => {} });
});

afterEach(() => {
  authDown = false;
});

afterAll(async () => {
  supabaseAuth.close();
  await database?.drop();
});

function claimsFor(sub: string, extra: JWTPayload = {}): JWTPayload {
  return {
    sub,
    iss: ISSUER,
    aud: "authenticated",
    role: "authenticated",
    email: `${sub.slice(0, 8)}@example.test`,
    user_metadata: { full_name: "Grace Hopper", avatar_url: "https://img.example/g.png" },
    ...extra,
  };
}

async function token(
  claims: JWTPayload,
  signWith: CryptoKey = key,
  kid = "supabase-1",
  exp = "1h",
  typ = "JWT",
): Promise<string> {
  return await new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid, typ })
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(exp === "past" ? Math.floor(now / 1000) - 10 : Math.floor(now / 1000) + 3600)
    .sign(signWith);
}

function bearer(jwt: string): Promise<Response> {
  return handler(new Request(SESSION, { headers: { authorization: `Bearer ${jwt}` } }));
}

describe("account takeover through an unconfirmed Supabase email", () => {
  it("never gives a new sub claiming Ada's email (and user_metadata.email_verified) her session or keys", async () => {
    const ada = await recordSignIn(database.db, "oidc", {
      subject: randomUUID(),
      email: `ada-${randomUUID()}@example.test`,
      emailVerified: true,
      name: "Ada",
      imageUrl: null,
    });
    const {
      rows: [{ email: adaEmail }],
    } = await database.admin.query("select email from public.users where id = $1", [ada.userId]);
    await insertKey(database.admin, ada.userId);
    const mallory = randomUUID();
    // Mallory signed up with Ada's address (never confirmed) and wrote email_verified into her own metadata.
    authUsers.set(mallory, { email: adaEmail, confirmed: false });
    const jwt = await token(
      claimsFor(mallory, { email: adaEmail, user_metadata: { email_verified: true, full_name: "Ada" } }),
    );
    const keysBefore = await database.admin.query("select id from public.api_keys where user_id = $1 order by id", [
      ada.userId,
    ]);
    const before = await authTables(database.admin);

    const session = await bearer(jwt);
    expect(session.status).toBe(403);
    expect((await session.json()).error.code).toBe("email_unverified");
    const listed = await apiKeys(new Request(API_KEYS, { headers: { authorization: `Bearer ${jwt}` } }));
    expect(listed.status).toBe(403);
    expect(JSON.stringify(await listed.json())).not.toContain(ada.userId);
    const created = await apiKeys(
      new Request(API_KEYS, {
        method: "POST",
        headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
        body: "{}",
      }),
    );
    expect(created.status).toBe(403);

    expect(await authTables(database.admin)).toBe(before);
    expect(
      (await database.admin.query("select id from public.api_keys where user_id = $1 order by id", [ada.userId])).rows,
    ).toEqual(keysBefore.rows);
  });

  it("links a new sub to the existing user only when Supabase Auth confirms the address", async () => {
    const email = `linked-${randomUUID()}@example.test`;
    const existing = await recordSignIn(database.db, "oidc", {
      subject: randomUUID(),
      email,
      emailVerified: true,
      name: null,
      imageUrl: null,
    });
    const sub = randomUUID();
    authUsers.set(sub, { email, confirmed: true });
    const res = await bearer(await token(claimsFor(sub, { email })));
    expect(res.status).toBe(200);
    expect((await res.json()).id).toBe(existing.userId);
  });

  it("asks Supabase Auth on first sight of a sub only", async () => {
    const sub = randomUUID();
    const calls = authCalls;
    for (let i = 0; i < 3; i++) expect((await bearer(await token(claimsFor(sub)))).status).toBe(200);
    expect(authCalls - calls).toBe(1);
  });

  it("trusts a top-level email_verified claim (a Custom Access Token Hook's) without asking Supabase Auth", async () => {
    const sub = randomUUID();
    authUsers.set(sub, { email: "ignored@example.test", confirmed: false });
    const calls = authCalls;
    const res = await bearer(await token(claimsFor(sub, { email_verified: true })));
    expect(res.status).toBe(200);
    expect(authCalls).toBe(calls);
  });

  it("keeps the address it holds when a known user's new email is unconfirmed", async () => {
    const sub = randomUUID();
    expect((await bearer(await token(claimsFor(sub)))).status).toBe(200);
    const held = `${sub.slice(0, 8)}@example.test`;
    const target = `target-${randomUUID()}@example.test`;
    authUsers.set(sub, { email: target, confirmed: false });
    now += 2 * 3600 * 1000;
    try {
      const res = await bearer(await token(claimsFor(sub, { email: target, user_metadata: { full_name: "Renamed" } })));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ email: held, name: "Renamed" });
    } finally {
      now -= 2 * 3600 * 1000;
    }
  });

  it("answers 503, not 401, when Supabase Auth cannot be asked, and writes nothing", async () => {
    authDown = true;
    const before = await authTables(database.admin);
    const res = await bearer(await token(claimsFor(randomUUID())));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
    expect((await res.json()).error.code).toBe("service_unavailable");
    expect(await authTables(database.admin)).toBe(before);
  });

  it("refuses (401) a new sub whose session Supabase Auth no longer knows", async () => {
    const sub = randomUUID();
    authUsers.set(sub, "signed-out");
    const res = await bearer(await token(claimsFor(sub)));
    expect(res.status).toBe(401);
  });
});

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
    const { rows } = await database.admin.query(
      "select user_id from public.user_identities where provider = 'supabase' and subject = $1",
      [sub],
    );
    expect(rows).toEqual([{ user_id: sub }]);
  });

  it("settles a new Supabase user's role from DEFAULT_ROLE and ADMIN_EMAILS, and records the sign-in", async () => {
    const config = loadConfig(env({ DEFAULT_ROLE: "member", ADMIN_EMAILS: "boss@example.test" }));
    const auth = createAuthHandler({ config, db: database.db, providers: new Map(), now: () => now, log: () => {} });
    const ask = async (claims: JWTPayload) =>
      await auth(new Request(SESSION, { headers: { authorization: `Bearer ${await token(claims)}` } }));
    const member = randomUUID();
    const boss = randomUUID();
    expect((await (await ask(claimsFor(member))).json()).role).toBe("member");
    expect((await (await ask(claimsFor(boss, { email: "boss@example.test" }))).json()).role).toBe("admin");
    const { rows } = await database.admin.query(
      `select u.id, u.role, (select count(*)::int from public.audit_events e
                              where e.target_user_id = u.id and e.action = 'sign_in') as sign_ins
         from public.users u where u.id = any($1::uuid[]) order by u.role`,
      [[member, boss]],
    );
    expect(rows).toEqual([
      { id: boss, role: "admin", sign_ins: 1 },
      { id: member, role: "member", sign_ins: 1 },
    ]);
    // Later requests are no new sign-in: the role an admin sets is never undone.
    expect((await ask(claimsFor(member))).status).toBe(200);
    const again = await database.admin.query(
      "select count(*)::int as n from public.audit_events where target_user_id = $1 and action = 'sign_in'",
      [member],
    );
    expect(again.rows[0].n).toBe(1);
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
    [
      "a token signed by an unknown key",
      async () => token(claimsFor(randomUUID()), (await generateKeyPair("ES256")).privateKey),
    ],
    [
      "a token signed by an unknown key under the known kid",
      async () => token(claimsFor(randomUUID()), (await generateKeyPair("ES256")).privateKey, "supabase-1"),
    ],
    ["an expired token", async () => token(claimsFor(randomUUID()), key, "supabase-1", "past")],
    ["a token for another audience", async () => token(claimsFor(randomUUID(), { aud: "anon" }))],
    ["a token without an audience", async () => token(claimsFor(randomUUID(), { aud: undefined }))],
    ["an alg: none token", async () => new UnsecuredJWT(claimsFor(randomUUID())).setExpirationTime("1h").encode()],
    [
      "an HS256 token signed with the public key's bytes",
      async () =>
        new SignJWT(claimsFor(randomUUID()))
          .setProtectedHeader({ alg: "HS256", kid: "supabase-1" })
          .setExpirationTime("1h")
          .sign(new TextEncoder().encode(jwks)),
    ],
    ["an anonymous Supabase user", async () => token(claimsFor(randomUUID(), { is_anonymous: true }))],
    [
      "a token from another issuer signed by a key in the set",
      async () => token(claimsFor(randomUUID(), { iss: "https://evil.example/auth/v1" })),
    ],
    [
      "a token from another Supabase project signed by a key in the set",
      async () => token(claimsFor(randomUUID(), { iss: "https://otherprojectref0000.supabase.co/auth/v1" })),
    ],
    ["a token without an issuer", async () => token(claimsFor(randomUUID(), { iss: undefined }))],
    ["a token whose role is not authenticated", async () => token(claimsFor(randomUUID(), { role: "service_role" }))],
    ["a token without a role", async () => token(claimsFor(randomUUID(), { role: undefined }))],
    ["a token of another type (typ)", async () => token(claimsFor(randomUUID()), key, "supabase-1", "1h", "at+jwt")],
    [
      "a tampered token",
      async () => {
        const [h, , s] = (await token(claimsFor(randomUUID()))).split(".");
        const payload = Buffer.from(
          JSON.stringify({ ...claimsFor(randomUUID()), exp: Math.floor(now / 1000) + 3600 }),
        ).toString("base64url");
        return `${h}.${payload}.${s}`;
      },
    ],
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

  it("refuses a new user whose email Supabase Auth has not confirmed (403, no write)", async () => {
    const sub = randomUUID();
    authUsers.set(sub, { email: `${sub.slice(0, 8)}@example.test`, confirmed: false });
    const jwt = await token(claimsFor(sub, { user_metadata: { full_name: "Unconfirmed", email_verified: true } }));
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
    const res = await handler(
      new Request(SESSION, { headers: { authorization: `Bearer ${anonKey}`, cookie: `kg_session=${session}` } }),
    );
    expect(res.status).toBe(200);
    expect((await res.json()).id).toBe(userId);
  });

  it("tells the caller how the user was authenticated", async () => {
    const config = loadConfig(env());
    const resolve = createUserResolver({ config, db: database.db, now: () => now });
    const user = await resolve(
      new Request(SESSION, { headers: { authorization: `Bearer ${await token(claimsFor(randomUUID()))}` } }),
    );
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
    const config = loadConfig(env({ SUPABASE_JWKS: "", SUPABASE_JWKS_URL: jwksUrl }));
    const remote = createAuthHandler({ config, db: database.db, providers: new Map(), log: () => {} });
    for (let i = 0; i < 3; i++) {
      const res = await remote(
        new Request(SESSION, { headers: { authorization: `Bearer ${await token(claimsFor(randomUUID()))}` } }),
      );
      expect(res.status).toBe(200);
    }
    expect(fetches).toBe(1);
  });

  it("answers 503 when the key set cannot be fetched, not 401", async () => {
    up = false;
    try {
      const config = loadConfig(env({ SUPABASE_JWKS: "", SUPABASE_JWKS_URL: jwksUrl }));
      const remote = createAuthHandler({ config, db: database.db, providers: new Map(), log: () => {} });
      const res = await remote(
        new Request(SESSION, { headers: { authorization: `Bearer ${await token(claimsFor(randomUUID()))}` } }),
      );
      expect(res.status).toBe(503);
      expect((await res.json()).error.code).toBe("service_unavailable");
    } finally {
      up = true;
    }
  });

  it("refuses a plain-http key set URL that is not on loopback", () => {
    expect(() =>
      loadConfig({ KEYGATE_ENV: "development", SUPABASE_URL, SUPABASE_JWKS_URL: "http://example.com/jwks.json" }),
    ).toThrow(/https/);
  });
});

describe("the key set and issuer from Supabase's own environment", () => {
  it("accepts SUPABASE_JWKS as a bare array of keys", async () => {
    const config = loadConfig(env({ SUPABASE_JWKS: JSON.stringify([jwk]) }));
    const verify = createSupabaseTokenVerifier(config)!;
    const sub = randomUUID();
    expect((await verify(await token(claimsFor(sub))))?.subject).toBe(sub);
  });

  it("derives the issuer and the JWKS URL from SUPABASE_URL", () => {
    const config = loadConfig({ SUPABASE_URL: `${SUPABASE_URL}/`, SUPABASE_ANON_KEY: "anon" });
    expect(config.supabaseUrl).toBe(SUPABASE_URL);
    expect(config.supabaseJwksUrl).toBe(`${SUPABASE_URL}/auth/v1/.well-known/jwks.json`);
    expect(
      loadConfig({ SUPABASE_URL, SUPABASE_JWKS: jwks, SUPABASE_ANON_KEY: "anon" }).supabaseJwksUrl,
    ).toBeUndefined();
  });

  it("refuses a key set without SUPABASE_URL, since no issuer could be checked", () => {
    expect(() => loadConfig({ SUPABASE_JWKS: jwks })).toThrow(/SUPABASE_URL/);
  });

  it("refuses SUPABASE_JWKS that is neither form", () => {
    for (const bad of ["{", '{"keys": 1}', "[1]", '"x"'])
      expect(() => loadConfig({ SUPABASE_URL, SUPABASE_JWKS: bad }), bad).toThrow(/SUPABASE_JWKS/);
  });

  it("reads the gateway apikey from SUPABASE_PUBLISHABLE_KEYS, else the legacy anon key", () => {
    expect(
      loadConfig({ SUPABASE_PUBLISHABLE_KEYS: '{"default":"sb_publishable_a"}', SUPABASE_ANON_KEY: "anon" })
        .supabaseApiKey,
    ).toBe("sb_publishable_a");
    expect(loadConfig({ SUPABASE_ANON_KEY: "anon" }).supabaseApiKey).toBe("anon");
  });

  it("says at start-up what a project on the legacy HS256 secret must do, and refuses its tokens", async () => {
    const secret = new TextEncoder().encode("legacy-jwt-secret-legacy-jwt-secret");
    const legacy = JSON.stringify({
      keys: [{ kty: "oct", alg: "HS256", kid: "legacy", k: Buffer.from(secret).toString("base64url") }],
    });
    const logs: string[] = [];
    const verify = createSupabaseTokenVerifier(loadConfig(env({ SUPABASE_JWKS: legacy })), {
      log: (m) => logs.push(m),
    })!;
    expect(logs).toEqual([LEGACY_SECRET_MESSAGE]);
    expect(LEGACY_SECRET_MESSAGE).toMatch(/migrate/i);
    const hs = await new SignJWT(claimsFor(randomUUID()))
      .setProtectedHeader({ alg: "HS256", kid: "legacy", typ: "JWT" })
      .setExpirationTime("1h")
      .sign(secret);
    expect(await verify(hs)).toBeNull();
  });
});
