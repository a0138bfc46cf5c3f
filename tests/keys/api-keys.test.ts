/** The `api-keys` function through the real Deno server and a fresh database. */
import { beforeAll, describe, expect, it } from "vitest";
import { type Call, call } from "../helpers/call.ts";
import { createSignedInUser, type SignedInUser } from "../helpers/session.ts";
import { useStack } from "../helpers/stack.ts";

let origin: string;

const stack = useStack();
beforeAll(async () => {
  origin = stack.url;
});

/** A cookie-authenticated request from the dashboard's own origin. */
function asUser(user: SignedInUser, init: RequestInit & { json?: unknown } = {}) {
  return { ...init, headers: { cookie: user.cookie, origin, ...(init.headers as Record<string, string>) } };
}

const keyCount = async (userId: string) =>
  Number((await stack.admin.query("select count(*) from public.api_keys where user_id = $1", [userId])).rows[0].count);

describe("POST /api-keys", () => {
  it("creates a key, returns it once with no-store, and stores only its hash", async () => {
    const user = await createSignedInUser(stack.admin);
    const res = await call(
      stack.url,
      "api-keys",
      asUser(user, { method: "POST", json: { name: "ci", scopes: ["jobs:read"], expires_in_days: 30 } }),
    );
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(Object.keys(res.body).sort()).toEqual(["created_at", "expires_at", "id", "key", "name", "scopes", "start"]);
    expect(res.body.key).toMatch(/^kg_[0-9A-Za-z]{49}$/);
    expect(res.body).toMatchObject({ name: "ci", scopes: ["jobs:read"], start: res.body.key.slice(0, 10) });
    const days = (Date.parse(res.body.expires_at) - Date.parse(res.body.created_at)) / 86_400_000;
    expect(days).toBeCloseTo(30, 2);
    const { rows } = await stack.admin.query(
      "select row_to_json(k)::text as row, encode(key_hash, 'hex') as hash from public.api_keys k where id = $1",
      [res.body.id],
    );
    expect(rows[0].row).not.toContain(res.body.key.slice(10));
    expect(rows[0].hash).toBe((await import("node:crypto")).createHash("sha256").update(res.body.key).digest("hex"));
    expect(stack.server.output()).not.toContain(res.body.key);
  });

  it("gives a key every documented scope by default and accepts an empty list", async () => {
    const user = await createSignedInUser(stack.admin);
    const all = await call(stack.url, "api-keys", asUser(user, { method: "POST" }));
    expect(all.status).toBe(201);
    expect(all.body).toMatchObject({
      name: "API key",
      scopes: ["jobs:read", "jobs:write", "jobs:work"],
      expires_at: null,
    });
    const none = await call(stack.url, "api-keys", asUser(user, { method: "POST", json: { scopes: [] } }));
    expect(none.body.scopes).toEqual([]);
  });

  it("refuses bad input with 400 and creates nothing", async () => {
    const user = await createSignedInUser(stack.admin);
    const bodies = [
      { scopes: ["admin:all"] },
      { expires_in_days: 0 },
      { expires_in_days: 366 },
      { expires_in_days: 1.5 },
      { name: "" },
      { name: "x".repeat(101) },
      { nmae: "typo" },
      { scopes: "jobs:read" },
    ];
    for (const json of bodies) {
      const res = await call(stack.url, "api-keys", asUser(user, { method: "POST", json }));
      expect(res.status, JSON.stringify(json)).toBe(400);
      expect(res.body.error.code).toBe("validation_failed");
    }
    const broken = await call(
      stack.url,
      "api-keys",
      asUser(user, { method: "POST", body: "{nope", headers: { "content-type": "application/json" } }),
    );
    expect([broken.status, broken.body.error.code]).toEqual([400, "invalid_json"]);
    const text = await call(
      stack.url,
      "api-keys",
      asUser(user, { method: "POST", body: "name=x", headers: { "content-type": "text/plain" } }),
    );
    expect([text.status, text.body.error.code]).toEqual([415, "unsupported_media_type"]);
    const big = await call(
      stack.url,
      "api-keys",
      asUser(user, { method: "POST", json: { name: "x".repeat(17 * 1024) } }),
    );
    expect([big.status, big.body.error.code]).toEqual([413, "payload_too_large"]);
    expect(await keyCount(user.id)).toBe(0);
  });

  it("limits creation per minute with 429 and Retry-After", async () => {
    const user = await createSignedInUser(stack.admin);
    const statuses: number[] = [];
    let limited: Call | undefined;
    for (let i = 0; i < 11; i++) {
      const res = await call(stack.url, "api-keys", asUser(user, { method: "POST" }));
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(statuses).toEqual([...Array(10).fill(201), 429]);
    expect(limited!.headers.get("retry-after")).toBe("60");
    expect(limited!.body.error.code).toBe("rate_limited");
    expect(await keyCount(user.id)).toBe(10);
  });

  it("refuses a key past the cap of 25 live keys with 409", async () => {
    const user = await createSignedInUser(stack.admin);
    // Arrange 25 keys made over a minute ago, so the rate limit is not what refuses.
    await stack.admin.query(
      `insert into public.api_keys (user_id, name, start, key_hash, created_at)
       select $1, 'old', 'kg_old0000', sha256(gen_random_uuid()::text::bytea), now() - interval '2 minutes'
         from generate_series(1, 25)`,
      [user.id],
    );
    const res = await call(stack.url, "api-keys", asUser(user, { method: "POST" }));
    expect([res.status, res.body.error.code]).toEqual([409, "key_limit_reached"]);
    await stack.admin.query(
      "update public.api_keys set revoked_at = now() where id = (select id from public.api_keys where user_id = $1 limit 1)",
      [user.id],
    );
    expect((await call(stack.url, "api-keys", asUser(user, { method: "POST" }))).status).toBe(201);
  });
});

describe("authentication and CSRF", () => {
  it("refuses every route without a session with 401", async () => {
    const routes: [string, string][] = [
      ["POST", "api-keys"],
      ["GET", "api-keys"],
      ["DELETE", `api-keys/${crypto.randomUUID()}`],
      ["POST", `api-keys/${crypto.randomUUID()}/rotate`],
    ];
    for (const [method, path] of routes) {
      const res = await call(stack.url, path, {
        method,
        headers: { origin, cookie: "kg_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
      });
      expect([res.status, res.body.error.code], `${method} ${path}`).toEqual([401, "unauthorized"]);
    }
  });

  it("refuses a cookie POST without an allowed Origin with 403 and creates nothing", async () => {
    const user = await createSignedInUser(stack.admin);
    const attempts: Record<string, string>[] = [
      { cookie: user.cookie },
      { cookie: user.cookie, origin: "https://evil.example" },
      { cookie: user.cookie, origin: "null" },
    ];
    for (const headers of attempts) {
      const res = await call(stack.url, "api-keys", { method: "POST", headers, json: {} });
      expect([res.status, res.body.error.code]).toEqual([403, "csrf_origin_mismatch"]);
    }
    expect(await keyCount(user.id)).toBe(0);
  });

  it("refuses a cookie DELETE or rotate from another origin and leaves the key working", async () => {
    const user = await createSignedInUser(stack.admin);
    const { body: key } = await call(stack.url, "api-keys", asUser(user, { method: "POST" }));
    const evil = { cookie: user.cookie, origin: "https://evil.example" };
    expect((await call(stack.url, `api-keys/${key.id}`, { method: "DELETE", headers: evil })).status).toBe(403);
    expect((await call(stack.url, `api-keys/${key.id}/rotate`, { method: "POST", headers: evil })).status).toBe(403);
    expect((await call(stack.url, "verify-key", { headers: { "x-api-key": key.key } })).status).toBe(200);
    expect(await keyCount(user.id)).toBe(1);
  });

  it("lets a cookie GET through without Origin (reads are not CSRF targets)", async () => {
    const user = await createSignedInUser(stack.admin);
    const res = await call(stack.url, "api-keys", { headers: { cookie: user.cookie } });
    expect(res.status).toBe(200);
  });

  it("answers the dashboard's preflight and no other origin's", async () => {
    const preflight = (o: string) =>
      fetch(`${stack.url}/functions/v1/api-keys`, {
        method: "OPTIONS",
        headers: { origin: o, "access-control-request-method": "POST" },
      });
    const ok = await preflight(origin);
    expect(ok.headers.get("access-control-allow-origin")).toBe(origin);
    expect(ok.headers.get("access-control-allow-credentials")).toBe("true");
    const evil = await preflight("https://evil.example");
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("GET /api-keys", () => {
  it("lists only the caller's keys, newest first, never a key or hash", async () => {
    const alice = await createSignedInUser(stack.admin);
    const bob = await createSignedInUser(stack.admin);
    const first = await call(stack.url, "api-keys", asUser(alice, { method: "POST", json: { name: "one" } }));
    const second = await call(stack.url, "api-keys", asUser(alice, { method: "POST", json: { name: "two" } }));
    await call(stack.url, "api-keys", asUser(bob, { method: "POST", json: { name: "bob's" } }));
    const res = await call(stack.url, "api-keys", asUser(alice));
    expect(res.status).toBe(200);
    expect(res.body.keys.map((k: { id: string }) => k.id)).toEqual([second.body.id, first.body.id]);
    for (const k of res.body.keys) {
      expect(Object.keys(k).sort()).toEqual([
        "created_at",
        "expires_at",
        "id",
        "last_used_at",
        "name",
        "revoked_at",
        "scopes",
        "start",
      ]);
    }
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(first.body.key);
    expect(text).not.toContain(second.body.key);
  });
});

describe("DELETE /api-keys/<id>", () => {
  it("revokes the caller's key: 204, then refused by verify-key", async () => {
    const user = await createSignedInUser(stack.admin);
    const { body: key } = await call(stack.url, "api-keys", asUser(user, { method: "POST" }));
    expect((await call(stack.url, "verify-key", { headers: { "x-api-key": key.key } })).status).toBe(200);
    const res = await call(stack.url, `api-keys/${key.id}`, asUser(user, { method: "DELETE" }));
    expect(res.status).toBe(204);
    const listed = await call(stack.url, "api-keys", asUser(user));
    expect(listed.body.keys[0].revoked_at).not.toBeNull();
    // Refused within the stated cache bound (5 s); the verify-key suite measures it.
    const deadline = Date.now() + 5500;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      status = (await call(stack.url, "verify-key", { headers: { "x-api-key": key.key } })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(401);
  });

  it("answers 404 for another user's key and leaves it working", async () => {
    const alice = await createSignedInUser(stack.admin);
    const bob = await createSignedInUser(stack.admin);
    const { body: key } = await call(stack.url, "api-keys", asUser(alice, { method: "POST" }));
    const res = await call(stack.url, `api-keys/${key.id}`, asUser(bob, { method: "DELETE" }));
    expect([res.status, res.body.error.code]).toEqual([404, "not_found"]);
    const rotate = await call(stack.url, `api-keys/${key.id}/rotate`, asUser(bob, { method: "POST" }));
    expect(rotate.status).toBe(404);
    expect((await call(stack.url, "verify-key", { headers: { "x-api-key": key.key } })).status).toBe(200);
  });

  it("answers 404, never 500, for ids that are not uuids or not known", async () => {
    const user = await createSignedInUser(stack.admin);
    for (const id of ["nope", "1", "00000000-0000-0000-0000-00000000000g", "%E0%A4%A", crypto.randomUUID()]) {
      const res = await call(stack.url, `api-keys/${id}`, asUser(user, { method: "DELETE" }));
      expect(res.status, id).toBeOneOf([400, 404]);
    }
    const unknown = await call(stack.url, "api-keys/x/y/z", asUser(user));
    expect(unknown.status).toBe(404);
    const wrong = await call(stack.url, "api-keys", asUser(user, { method: "PUT" }));
    expect([wrong.status, wrong.headers.get("allow")]).toEqual([405, "GET, POST, OPTIONS"]);
  });
});

describe("POST /api-keys/<id>/rotate", () => {
  it("returns a new key of the same name and scopes; the old one works through its grace, then not", async () => {
    const user = await createSignedInUser(stack.admin);
    const { body: old } = await call(
      stack.url,
      "api-keys",
      asUser(user, { method: "POST", json: { name: "deploy", scopes: ["jobs:read"] } }),
    );
    const res = await call(
      stack.url,
      `api-keys/${old.id}/rotate`,
      asUser(user, { method: "POST", json: { grace_seconds: 2 } }),
    );
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body).toMatchObject({ name: "deploy", scopes: ["jobs:read"] });
    expect(res.body.key).not.toBe(old.key);
    const verify = async (key: string) =>
      (await call(stack.url, "verify-key", { headers: { "x-api-key": key } })).status;
    expect(await verify(old.key)).toBe(200);
    expect(await verify(res.body.key)).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    expect(await verify(old.key)).toBe(401); // the cache never outlives a grace period
    expect(await verify(res.body.key)).toBe(200);
    const again = await call(stack.url, `api-keys/${old.id}/rotate`, asUser(user, { method: "POST" }));
    expect(again.status).toBe(404);
  });

  it("defaults to an hour of grace and refuses a grace out of range", async () => {
    const user = await createSignedInUser(stack.admin);
    const { body: old } = await call(stack.url, "api-keys", asUser(user, { method: "POST" }));
    for (const grace_seconds of [-1, 86_401, 1.5]) {
      const bad = await call(
        stack.url,
        `api-keys/${old.id}/rotate`,
        asUser(user, { method: "POST", json: { grace_seconds } }),
      );
      expect(bad.status).toBe(400);
    }
    const res = await call(stack.url, `api-keys/${old.id}/rotate`, asUser(user, { method: "POST" }));
    expect(res.status).toBe(201);
    const { rows } = await stack.admin.query(
      "select extract(epoch from revoked_at - now()) as left from public.api_keys where id = $1",
      [old.id],
    );
    expect(Number(rows[0].left)).toBeGreaterThan(3500);
    expect(Number(rows[0].left)).toBeLessThanOrEqual(3600);
  });

  it("counts rotations toward the per-minute limit", async () => {
    const user = await createSignedInUser(stack.admin);
    let { body: key } = await call(stack.url, "api-keys", asUser(user, { method: "POST" }));
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await call(stack.url, `api-keys/${key.id}/rotate`, asUser(user, { method: "POST" }));
      statuses.push(res.status);
      if (res.status === 201) key = res.body;
    }
    expect(statuses).toEqual([...Array(9).fill(201), 429]);
  });
});
