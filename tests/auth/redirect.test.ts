/**
 * redirect_to validation: only same-origin paths and allowed origins pass;
 * every open-redirect shape is refused at login time with 400.
 */
import { describe, expect, it } from "vitest";
import type { OAuthProvider } from "../../functions/_shared/auth/oauth-provider.ts";
import { resolveRedirect } from "../../functions/_shared/auth/redirect.ts";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import type { Db } from "../../functions/_shared/db/db.ts";
import { createAuthHandler } from "../../functions/_shared/handlers/auth/handler.ts";

const config = loadConfig({
  KEYGATE_ENV: "development",
  PUBLIC_URL: "http://127.0.0.1:54321",
  ALLOWED_REDIRECT_ORIGINS: "https://app.example.com, http://localhost:3000",
  SESSION_SECRET: "s",
});

const OPEN_REDIRECTS = [
  "//evil.example",
  "///evil.example",
  "/\\evil.example",
  "\\\\evil.example",
  "/\\/evil.example",
  "\\/evil.example",
  "https://evil.example/",
  "http://evil.example",
  "https://app.example.com.evil.example/",
  "https://evil.example#https://app.example.com",
  "https://app.example.com@evil.example/",
  "https://user:pass@app.example.com/",
  "http://app.example.com/", // allowed host, wrong scheme: another origin
  "https://app.example.com:8443/",
  "javascript:alert(1)",
  "JavaScript://app.example.com/%0aalert(1)",
  "data:text/html,<script>alert(1)</script>",
  "ftp://app.example.com/",
  "evil.example",
  "keys",
  "./keys",
  "../keys",
  "/\tevil",
  "/\nLocation: https://evil.example",
  "/%0d%0a".replace("%0d%0a", "\r\n"),
  " /keys",
  "/keys\u0000",
  "x".repeat(3000),
  // Short enough as given, too long once resolved and percent-encoded (was a 500).
  `/${"a".repeat(2030)}`,
  `/${"é".repeat(400)}`,
];

describe("resolveRedirect", () => {
  it("defaults to the dashboard at /", () => {
    expect(resolveRedirect(null, config)).toBe("http://127.0.0.1:54321/");
    expect(resolveRedirect("", config)).toBe("http://127.0.0.1:54321/");
  });

  it("accepts same-origin paths, keeping query and fragment", () => {
    expect(resolveRedirect("/", config)).toBe("http://127.0.0.1:54321/");
    expect(resolveRedirect("/keys?tab=new#top", config)).toBe("http://127.0.0.1:54321/keys?tab=new#top");
    expect(resolveRedirect("/a/../b", config)).toBe("http://127.0.0.1:54321/b");
  });

  it("accepts absolute URLs on allowed origins and on PUBLIC_URL's origin", () => {
    expect(resolveRedirect("https://app.example.com/welcome", config)).toBe("https://app.example.com/welcome");
    expect(resolveRedirect("http://localhost:3000", config)).toBe("http://localhost:3000/");
    expect(resolveRedirect("http://127.0.0.1:54321/x", config)).toBe("http://127.0.0.1:54321/x");
  });

  for (const shape of OPEN_REDIRECTS) {
    it(`refuses ${JSON.stringify(shape.slice(0, 60))}`, () => {
      expect(() => resolveRedirect(shape, config)).toThrowError(expect.objectContaining({ code: "invalid_redirect" }));
    });
  }
});

describe("GET /auth/login with a bad redirect_to", () => {
  let started = 0;
  const provider: OAuthProvider = {
    id: "oidc",
    name: "Test",
    authorizationUrl: async () => {
      started += 1;
      return new URL("https://idp.example/authorize");
    },
    complete: async () => {
      throw new Error("not used");
    },
  };
  const noDb: Db = {
    query: async () => {
      throw new Error("no database work expected");
    },
    end: async () => {},
  };
  const handler = createAuthHandler({ config, db: noDb, providers: new Map([["oidc", provider]]), log: () => {} });

  it("answers 400 invalid_redirect, sets no cookie and never reaches the provider", async () => {
    for (const shape of ["//evil.example", "/\\evil.example", "https://evil.example/", "javascript:alert(1)"]) {
      const res = await handler(
        new Request(`http://127.0.0.1:54321/functions/v1/auth/login/oidc?redirect_to=${encodeURIComponent(shape)}`),
      );
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe("invalid_redirect");
      expect(res.headers.getSetCookie()).toEqual([]);
    }
    expect(started).toBe(0);
  });

  it("answers 302 with a login cookie for a same-origin path", async () => {
    const res = await handler(new Request("http://127.0.0.1:54321/functions/v1/auth/login/oidc?redirect_to=%2Fkeys"));
    expect(res.status).toBe(302);
    expect(res.headers.getSetCookie()).toHaveLength(1);
    expect(started).toBe(1);
  });
});
