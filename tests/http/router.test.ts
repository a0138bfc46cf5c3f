import { describe, expect, it } from "vitest";
import type { CorsPolicy } from "../../functions/_shared/http/cors.ts";
import { json } from "../../functions/_shared/http/response.ts";
import { createRouter, type Params, route } from "../../functions/_shared/http/router.ts";

const ID = "0b7f6a2e-3c1d-4e5f-8a9b-0c1d2e3f4a5b";
const base = "http://127.0.0.1:54321/functions/v1";

const handle = createRouter<{ who: string }>([
  route("GET", "/things", (_req, _params, ctx) => json({ list: true, who: ctx.who })),
  route("POST", "/things", () => json({ created: true }, { status: 201 })),
  route("GET", "/things/summary", () => json({ summary: true })),
  route("GET", "/things/:id(uuid)", (_req, { id }) => json({ id })),
  route("DELETE", "/things/:id(uuid)", () => new Response(null, { status: 204 })),
  route("POST", "/things/:id(uuid)/parts/:part", (_req, { id, part }) => json({ id, part })),
]);

async function call(path: string, init: RequestInit = {}) {
  const res = await handle(new Request(`${base}${path}`, init), { who: "ctx" });
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  return { status: res.status, allow: res.headers.get("allow"), body };
}

describe("createRouter", () => {
  it("dispatches by method and path, handing the context and the typed, decoded parameters", async () => {
    expect(await call("/things")).toMatchObject({ status: 200, body: { list: true, who: "ctx" } });
    expect(await call("/things", { method: "POST" })).toMatchObject({ status: 201 });
    expect(await call(`/things/${ID}`)).toMatchObject({ status: 200, body: { id: ID } });
    expect(await call(`/things/${ID}/parts/a%20b`, { method: "POST" })).toMatchObject({
      body: { id: ID, part: "a b" },
    });
    expect(await call("/things/summary")).toMatchObject({ body: { summary: true } });
  });

  it("matches the hosted path (without /functions/v1) and ignores a trailing slash", async () => {
    const res = await handle(new Request(`http://x.supabase.co/things/${ID}/`), { who: "" });
    expect(await res.json()).toEqual({ id: ID });
  });

  it("answers 404 for an unknown path and for a parameter that is not the uuid the route asks for", async () => {
    for (const path of ["/nothing", "/things/not-a-uuid", `/things/${ID}/other`, `/things/${ID}/parts`]) {
      expect(await call(path), path).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    }
  });

  it("answers 405 with Allow listing the path's methods and OPTIONS", async () => {
    expect(await call("/things", { method: "PUT" })).toMatchObject({
      status: 405,
      allow: "GET, POST, OPTIONS",
      body: { error: { code: "method_not_allowed" } },
    });
    expect(await call(`/things/${ID}`, { method: "POST" })).toMatchObject({
      status: 405,
      allow: "GET, DELETE, OPTIONS",
    });
  });

  it("answers 400 for a path that does not decode", async () => {
    expect(await call("/things/%E0%A4%A")).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
  });

  it("turns what a handler throws into the one error shape, never a stack", async () => {
    const logged: unknown[] = [];
    const quiet = createRouter(
      [
        route("GET", "/boom", () => {
          throw new Error("secret detail");
        }),
      ],
      { log: (m, f) => logged.push([m, f]) },
    );
    const res = await quiet(new Request(`${base}/boom`));
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain("secret");
    expect(JSON.stringify(logged)).not.toContain("secret");
  });

  it("answers a preflight with the CORS policy of the route the browser asks for, and adds its headers", async () => {
    const open: CorsPolicy = {
      preflight: (_req, methods) => new Response(null, { status: 204, headers: { "x-policy": `open ${methods}` } }),
      headers: () => ({ "x-policy": "open" }),
    };
    const closed: CorsPolicy = {
      preflight: () => new Response(null, { status: 204, headers: { "x-policy": "closed" } }),
      headers: () => ({ "x-policy": "closed" }),
    };
    const mixed = createRouter(
      [route("GET", "/a", () => json({})), route("GET", "/a/summary", () => json({}), { cors: open })],
      { cors: closed },
    );
    const preflight = (path: string) =>
      mixed(
        new Request(`${base}${path}`, {
          method: "OPTIONS",
          headers: { origin: "https://x", "access-control-request-method": "GET" },
        }),
      );
    expect((await preflight("/a/summary")).headers.get("x-policy")).toBe("open GET, OPTIONS");
    expect((await preflight("/a")).headers.get("x-policy")).toBe("closed");
    expect((await mixed(new Request(`${base}/a/summary`))).headers.get("x-policy")).toBe("open");
    expect((await mixed(new Request(`${base}/a`))).headers.get("x-policy")).toBe("closed");
    expect((await mixed(new Request(`${base}/nowhere`))).headers.get("x-policy")).toBe("closed");
    // A path with no route: the router's policy answers, so the page can read the 404 that follows.
    const nowhere = await preflight("/nowhere");
    expect([nowhere.status, nowhere.headers.get("x-policy")]).toEqual([204, "closed"]);
  });

  it("refuses a table it cannot read at start-up", () => {
    expect(() => route("GET", "things", () => json({}))).toThrow(/must start with/);
    expect(() => route("GET", "/things/:1bad", () => json({}))).toThrow(/bad parameter/);
    expect(() => createRouter([])).toThrow(/at least one route/);
  });
});

describe("Params", () => {
  it("types each parameter of a path, and only those", () => {
    const both: Params<"/orgs/:id(uuid)/members/:user"> = { id: ID, user: "u" };
    // @ts-expect-error a parameter the path does not have
    const extra: Params<"/orgs/:id(uuid)"> = { id: ID, other: "x" };
    // @ts-expect-error a parameter the path has, missing
    const missing: Params<"/orgs/:id(uuid)/members/:user"> = { id: ID };
    expect([both, extra, missing].length).toBe(3);
  });
});
