/** `verify-key` through the real Deno server: every refusal, the cache bound, no writes. */
import { describe, expect, it } from "vitest";
import { generateApiKey } from "../../functions/_shared/keys/format.ts";
import { call } from "../helpers/call.ts";
import { createUser } from "../helpers/database.ts";
import { insertKey } from "../helpers/keys.ts";
import { createSignedInUser } from "../helpers/session.ts";
import { useStack } from "../helpers/stack.ts";

/** The revocation bound docs/security.md states: the verification cache's lifetime. */
const CACHE_BOUND_MS = 5000;

const stack = useStack({ env: { API_KEY_CREATE_PER_MINUTE: "1000" } });

const verify = (headers: Record<string, string>, method = "GET") => call(stack.url, "verify-key", { method, headers });

/** Polls verify-key until it refuses the key; the time it took, or Infinity. */
async function msUntilRefused(key: string, since: number, limitMs: number): Promise<number> {
  while (Date.now() - since <= limitMs) {
    if ((await verify({ "x-api-key": key })).status === 401) return Date.now() - since;
    await new Promise((r) => setTimeout(r, 50));
  }
  return Infinity;
}

describe("verify-key", () => {
  it("accepts a live key from x-api-key or Authorization: Bearer, by GET or POST", async () => {
    const user = await createUser(stack.admin);
    const { id, key } = await insertKey(stack.admin, user.id, { scopes: ["jobs:read"] });
    const expected = {
      valid: true,
      key_id: id,
      owner: { type: "user", id: user.id },
      user_id: user.id,
      created_by: user.id,
      scopes: ["jobs:read"],
      expires_at: null,
    };
    for (const [headers, method] of [
      [{ "x-api-key": key }, "GET"],
      [{ authorization: `Bearer ${key}` }, "GET"],
      [{ authorization: `bearer  ${key}` }, "POST"],
      [{ "x-api-key": key, authorization: "Bearer some-supabase-anon-key" }, "GET"],
    ] as const) {
      const res = await verify(headers, method);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(expected);
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
  });

  it("refuses missing, malformed, unknown, revoked, expired and inactive-owner keys alike", async () => {
    const owner = await createUser(stack.admin);
    const gone = await createUser(stack.admin);
    const revoked = await insertKey(stack.admin, owner.id);
    const expired = await insertKey(stack.admin, owner.id);
    const inactive = await insertKey(stack.admin, gone.id);
    await stack.admin.query("update public.api_keys set revoked_at = now() where id = $1", [revoked.id]);
    await stack.admin.query("update public.api_keys set expires_at = now() - interval '1 second' where id = $1", [
      expired.id,
    ]);
    await stack.admin.query("update public.users set is_active = false where id = $1", [gone.id]);
    const valid = await insertKey(stack.admin, owner.id);
    const typo = valid.key.slice(0, 20) + (valid.key[20] === "a" ? "b" : "a") + valid.key.slice(21);

    const missing = await verify({});
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="keygate"');
    expect(missing.body).toEqual({ valid: false, error: { code: "invalid_api_key", message: expect.any(String) } });

    const presented: Record<string, string>[] = [
      { "x-api-key": "hello" },
      { authorization: "Basic dXNlcjpwYXNz" },
      { authorization: `Bearer ${typo}` },
      { "x-api-key": generateApiKey("kg") },
      { "x-api-key": generateApiKey("other") },
      { "x-api-key": revoked.key },
      { "x-api-key": expired.key },
      { "x-api-key": inactive.key },
      { "x-api-key": "x".repeat(5000) },
    ];
    for (const headers of presented) {
      const res = await verify(headers);
      expect(res.status, JSON.stringify(headers).slice(0, 80)).toBe(401);
      expect(res.body).toEqual(missing.body);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate", error="invalid_token"');
    }
    expect((await verify({ "x-api-key": valid.key })).status).toBe(200);
  });

  it("answers 405 to other methods", async () => {
    const res = await verify({}, "DELETE");
    expect(res.status).toBe(405);
  });

  it(`refuses a key revoked through the API within ${CACHE_BOUND_MS} ms, and from then on`, async () => {
    const user = await createSignedInUser(stack.admin);
    const created = await call(stack.url, "api-keys", {
      method: "POST",
      headers: { cookie: user.cookie, origin: stack.url },
    });
    const key = created.body.key as string;
    expect((await verify({ "x-api-key": key })).status).toBe(200); // now cached
    const revokedAt = Date.now();
    expect(
      (
        await call(stack.url, `api-keys/${created.body.id}`, {
          method: "DELETE",
          headers: { cookie: user.cookie, origin: stack.url },
        })
      ).status,
    ).toBe(204);
    const took = await msUntilRefused(key, revokedAt, CACHE_BOUND_MS + 500);
    expect(took).toBeLessThanOrEqual(CACHE_BOUND_MS + 500);
    for (let i = 0; i < 5; i++) expect((await verify({ "x-api-key": key })).status).toBe(401);
  });

  it(`refuses a deactivated user's key within ${CACHE_BOUND_MS} ms`, async () => {
    const user = await createUser(stack.admin);
    const { key } = await insertKey(stack.admin, user.id);
    expect((await verify({ "x-api-key": key })).status).toBe(200);
    const at = Date.now();
    await stack.admin.query("update public.users set is_active = false where id = $1", [user.id]);
    expect(await msUntilRefused(key, at, CACHE_BOUND_MS + 500)).toBeLessThanOrEqual(CACHE_BOUND_MS + 500);
  });

  it("writes nothing in steady state: last_used_at once, then no new row version", async () => {
    const user = await createUser(stack.admin);
    const { id, key } = await insertKey(stack.admin, user.id);
    const row = async () =>
      (await stack.admin.query("select xmin::text, ctid::text, last_used_at from public.api_keys where id = $1", [id]))
        .rows[0];
    expect((await row()).last_used_at).toBeNull();
    await verify({ "x-api-key": key });
    let before = await row();
    for (let i = 0; i < 40 && before.last_used_at === null; i++) {
      await new Promise((r) => setTimeout(r, 50));
      before = await row();
    }
    expect(before.last_used_at).not.toBeNull();
    await Promise.all(Array.from({ length: 200 }, () => verify({ "x-api-key": key })));
    await new Promise((r) => setTimeout(r, 200)); // a fire-and-forget write would land by now
    expect(await row()).toEqual(before);
  });

  it("grants browsers nothing: a preflight gets no CORS headers", async () => {
    const res = await fetch(`${stack.url}/functions/v1/verify-key`, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "GET",
        "access-control-request-headers": "x-api-key",
      },
    });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const user = await createUser(stack.admin);
    const { key } = await insertKey(stack.admin, user.id);
    const actual = await verify({ "x-api-key": key, origin: "https://app.example" });
    expect(actual.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("parallel creation", () => {
  it("100 parallel creations across four users give distinct working keys and hold each cap of 25", async () => {
    const users = await Promise.all(Array.from({ length: 4 }, () => createSignedInUser(stack.admin)));
    // Five keys each already: 20 of the next 25 fit under the cap.
    for (const user of users) for (let i = 0; i < 5; i++) await insertKey(stack.admin, user.id);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const user = users[i % 4];
        return call(stack.url, "api-keys", {
          method: "POST",
          headers: { cookie: user.cookie, origin: stack.url },
          json: { name: `p${i}` },
        }).then((res) => ({ user: user.id, ...res }));
      }),
    );
    for (const user of users) {
      const mine = results.filter((r) => r.user === user.id);
      expect(mine.filter((r) => r.status === 201)).toHaveLength(20);
      expect(mine.filter((r) => r.status === 409).every((r) => r.body.error.code === "key_limit_reached")).toBe(true);
      expect(mine.filter((r) => r.status === 409)).toHaveLength(5);
      const live = await stack.admin.query(
        "select count(*) from public.api_keys where user_id = $1 and revoked_at is null",
        [user.id],
      );
      expect(Number(live.rows[0].count)).toBe(25);
    }
    const created = results.filter((r) => r.status === 201);
    expect(new Set(created.map((r) => r.body.key)).size).toBe(80);
    const checks = await Promise.all(created.map((r) => verify({ "x-api-key": r.body.key })));
    checks.forEach((res, i) => {
      expect(res.status).toBe(200);
      expect(res.body.user_id).toBe(created[i].user);
      expect(res.body.key_id).toBe(created[i].body.id);
    });
  });
});
