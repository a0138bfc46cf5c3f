/**
 * CORS for the routes a browser uses (`auth`, `api-keys`): allowed origins
 * may send every header supabase-js and Supabase's CORS guide send; other
 * origins get nothing.
 */
import { corsHeaders as supabaseCorsHeaders } from "@supabase/supabase-js/cors";
import { describe, expect, it } from "vitest";
import { browserCors, corsHeaders } from "../../functions/_shared/http/cors.ts";
import { createRouter, route } from "../../functions/_shared/http/router.ts";

const APP = "https://app.example.test";
const allowedHeaders = (value: string | null | undefined) =>
  new Set((value ?? "").split(",").map((h) => h.trim().toLowerCase()));
const handler = createRouter(
  [
    route("GET", "/auth/session", () => Response.json({ ok: true })),
    route("POST", "/auth/session", () => Response.json({ ok: true })),
  ],
  { cors: browserCors([APP]) },
);

function preflight(origin: string, requestHeaders: string): Promise<Response> {
  return handler(
    new Request("http://127.0.0.1:9/functions/v1/auth/session", {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": requestHeaders },
    }),
  );
}

describe("CORS for browser routes", () => {
  it("allows every header the installed supabase-js lists in its own corsHeaders", () => {
    const ours = allowedHeaders(
      corsHeaders(new Request("http://x/", { headers: { origin: APP } }), [APP], "GET")["access-control-allow-headers"],
    );
    for (const header of allowedHeaders(supabaseCorsHeaders["Access-Control-Allow-Headers"]))
      expect(ours).toContain(header);
  });

  it("answers a preflight asking for supabase-js, region, retry and trace headers", async () => {
    const asked = [
      "authorization",
      "apikey",
      "content-type",
      "x-client-info",
      "x-region",
      "x-retry-count",
      "traceparent",
      "tracestate",
      "baggage",
    ];
    const res = await preflight(APP, asked.join(","));
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("access-control-allow-methods")).toBe("GET, POST, OPTIONS");
    const allowed = allowedHeaders(res.headers.get("access-control-allow-headers"));
    for (const header of asked) expect(allowed).toContain(header);
    expect(res.headers.get("vary")).toBe("Origin");
  });

  it("grants another origin nothing, on preflight or response", async () => {
    const res = await preflight("https://evil.example", "authorization");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("access-control-allow-headers")).toBeNull();
    const get = await handler(
      new Request("http://127.0.0.1:9/functions/v1/auth/session", { headers: { origin: "https://evil.example" } }),
    );
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
    expect(get.headers.get("vary")).toBe("Origin");
  });

  it("adds the headers to an allowed origin's response", async () => {
    const res = await handler(
      new Request("http://127.0.0.1:9/functions/v1/auth/session", { headers: { origin: APP } }),
    );
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(await res.json()).toEqual({ ok: true });
  });
});
