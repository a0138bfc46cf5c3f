/** `withApiKey` in-process (its handler is a plain Request -> Response function), against real Postgres. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import { generateApiKey } from "../../functions/_shared/keys/format.ts";
import { createKeyVerifier } from "../../functions/_shared/keys/verify.ts";
import { type ApiKeyContext, createWithApiKey } from "../../functions/_shared/keys/with-api-key.ts";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";
import { insertKey } from "../helpers/keys.ts";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});

const request = (headers: Record<string, string> = {}, method = "GET") =>
  new Request("http://127.0.0.1/functions/v1/thing", { method, headers });

describe("withApiKey", () => {
  it("hands the handler the key's owner, id and scopes", async () => {
    const user = await createUser(t.admin);
    const { id, key } = await insertKey(t.admin, user.id, { scopes: ["jobs:write"] });
    const withApiKey = createWithApiKey({ config: loadConfig({}), db: t.db });
    let seen: ApiKeyContext | undefined;
    const fetch = withApiKey({ scopes: ["jobs:write"] }, (_req, ctx) => {
      seen = ctx;
      return Response.json({ hello: ctx.userId });
    });
    const res = await fetch(request({ authorization: `Bearer ${key}` }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ hello: user.id });
    expect(seen).toEqual({
      keyId: id,
      owner: { type: "user", id: user.id },
      userId: user.id,
      orgId: null,
      createdBy: user.id,
      scopes: ["jobs:write"],
      expiresAt: null,
    });
  });

  it("refuses a key lacking any required scope with 403 and does not run the handler", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id, { scopes: ["jobs:read"] });
    let ran = false;
    const fetch = createWithApiKey({ config: loadConfig({}), db: t.db })(
      { scopes: ["jobs:read", "jobs:write"] },
      () => {
        ran = true;
        return new Response("no");
      },
    );
    const res = await fetch(request({ "x-api-key": key }));
    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe("insufficient_scope");
    expect(res.headers.get("www-authenticate")).toBe(
      'Bearer realm="keygate", error="insufficient_scope", scope="jobs:read jobs:write"',
    );
    expect(ran).toBe(false);
  });

  it("answers 429 with Retry-After to a client past its limit of failed verifications, without running the handler", async () => {
    const verifier = createKeyVerifier({ db: t.db, prefix: "kg", failuresPerMinute: 1 });
    let ran = false;
    const fetch = createWithApiKey({ config: loadConfig({}), verifier })({}, () => {
      ran = true;
      return new Response("no");
    });
    const from = { "cf-connecting-ip": "198.51.100.9" };
    expect((await fetch(request({ ...from, "x-api-key": generateApiKey("kg") }))).status).toBe(401);
    const res = await fetch(request({ ...from, "x-api-key": generateApiKey("kg") }));
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await res.json()).error.code).toBe("rate_limited");
    expect(
      (await fetch(request({ "cf-connecting-ip": "203.0.113.9", "x-api-key": generateApiKey("kg") }))).status,
    ).toBe(401);
    expect(ran).toBe(false);
  });

  it("turns the handler's own errors into JSON errors, never a stack", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    const logs: unknown[] = [];
    const fetch = createWithApiKey({ config: loadConfig({}), db: t.db, log: (m) => logs.push(m) })({}, () => {
      throw new TypeError("secret detail");
    });
    const res = await fetch(request({ "x-api-key": key }));
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain("secret detail");
    expect(logs).toHaveLength(1);
  });

  it("with ALLOW_BROWSER_KEYS=true, answers any origin's preflight without credentials", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    const fetch = createWithApiKey({ config: loadConfig({ ALLOW_BROWSER_KEYS: "true" }), db: t.db })(
      { methods: "GET, OPTIONS" },
      () => Response.json({}),
    );
    const pre = await fetch(
      request({ origin: "https://app.example", "access-control-request-method": "GET" }, "OPTIONS"),
    );
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(pre.headers.get("access-control-allow-headers")).toContain("x-api-key");
    expect(pre.headers.get("access-control-allow-credentials")).toBeNull();
    const res = await fetch(request({ origin: "https://app.example", "x-api-key": key }));
    expect([res.status, res.headers.get("access-control-allow-origin"), res.headers.get("vary")]).toEqual([
      200,
      "https://app.example",
      "Origin",
    ]);
    const refused = await fetch(request({ origin: "https://app.example" }));
    expect([refused.status, refused.headers.get("access-control-allow-origin")]).toEqual([401, "https://app.example"]);
  });

  it("without it, answers a preflight with no CORS headers", async () => {
    const fetch = createWithApiKey({ config: loadConfig({}), db: t.db })({}, () => Response.json({}));
    const pre = await fetch(
      request({ origin: "https://app.example", "access-control-request-method": "GET" }, "OPTIONS"),
    );
    expect(pre.status).toBe(204);
    expect([...pre.headers.keys()].filter((h) => h.startsWith("access-control"))).toEqual([]);
  });
});

describe("withApiKey set-up", () => {
  it("refuses an unknown scope when the route is built, not at request time", () => {
    const withApiKey = createWithApiKey({ config: loadConfig({}), db: t.db });
    expect(() => withApiKey({ scopes: ["jobs:wirte"] }, () => new Response())).toThrow(/unknown scope jobs:wirte/);
  });
});
