import { describe, expect, it } from "vitest";
import {
  loadAuthLimitSettings,
  loadClientAddressSettings,
  loadConfig,
  loadKeySettings,
  SUPABASE_EMAIL_UNPROVABLE,
} from "../../functions/_shared/config/config.ts";
import { isLoopbackHost } from "../../functions/_shared/core/loopback.js";

describe("loadConfig", () => {
  it("defaults to the Supabase local port, its origin and the kg prefix", () => {
    const config = loadConfig({});
    expect(config.port).toBe(54321);
    expect(config.publicUrl).toBe("http://127.0.0.1:54321");
    expect(config.allowedRedirectOrigins).toEqual(["http://127.0.0.1:54321"]);
    expect(config.apiKeyPrefix).toBe("kg");
    expect(config.production).toBe(true);
    expect(config.allowBrowserKeys).toBe(false);
    expect([config.github, config.google, config.oidc]).toEqual([undefined, undefined, undefined]);
  });

  it("holds four database connections per isolate unless DB_POOL_MAX says otherwise", () => {
    expect(loadConfig({}).dbPoolMax).toBe(4);
    expect(loadConfig({ DB_POOL_MAX: "2" }).dbPoolMax).toBe(2);
    for (const bad of ["0", "-1", "1.5", "many"])
      expect(() => loadConfig({ DB_POOL_MAX: bad }), bad).toThrow(/DB_POOL_MAX/);
  });

  it("sends statements unnamed unless DB_PREPARED_STATEMENTS=true", () => {
    expect(loadConfig({}).dbPreparedStatements).toBe(false);
    expect(loadConfig({ DB_PREPARED_STATEMENTS: "true" }).dbPreparedStatements).toBe(true);
    expect(loadConfig({ DB_PREPARED_STATEMENTS: "false" }).dbPreparedStatements).toBe(false);
    expect(() => loadConfig({ DB_PREPARED_STATEMENTS: "yes" })).toThrow(/DB_PREPARED_STATEMENTS/);
  });

  it("reads the database from DATABASE_URL, else SUPABASE_DB_URL", () => {
    expect(loadConfig({ SUPABASE_DB_URL: "postgresql://s" }).databaseUrl).toBe("postgresql://s");
    expect(loadConfig({ DATABASE_URL: "postgresql://d", SUPABASE_DB_URL: "postgresql://s" }).databaseUrl).toBe(
      "postgresql://d",
    );
  });

  it("accepts a prefix of 1-16 lowercase letters or digits and refuses others", () => {
    expect(loadConfig({ API_KEY_PREFIX: "acme2" }).apiKeyPrefix).toBe("acme2");
    for (const bad of ["Acme", "2fa", "a_b", "a-b", "x".repeat(17)]) {
      expect(() => loadConfig({ API_KEY_PREFIX: bad }), bad).toThrow(/API_KEY_PREFIX/);
    }
  });

  it("requires https for providers and JWKS, except on loopback hosts", () => {
    const oidc = { OIDC_CLIENT_ID: "id", OIDC_CLIENT_SECRET: "secret" };
    expect(() => loadConfig({ ...oidc, OIDC_ISSUER: "http://idp.example.com" })).toThrow(/https/);
    expect(loadConfig({ ...oidc, OIDC_ISSUER: "http://127.0.0.1:9000" }).oidc?.issuer).toBe("http://127.0.0.1:9000");
    expect(loadConfig({ ...oidc, OIDC_ISSUER: "https://idp.example.com" }).oidc?.name).toBe("OpenID");
    expect(() => loadConfig({ SUPABASE_JWKS_URL: "http://x.supabase.co/jwks" })).toThrow(/https/);
  });

  it("refuses half a client (an id without its secret)", () => {
    expect(() => loadConfig({ OAUTH_GITHUB_CLIENT_ID: "id" })).toThrow(/both/);
    expect(() => loadConfig({ OIDC_ISSUER: "https://idp.example.com" })).toThrow(/OIDC_CLIENT_ID/);
  });

  it("normalises allowed redirect origins and always allows PUBLIC_URL's own", () => {
    const config = loadConfig({
      PUBLIC_URL: "https://keys.example.com/",
      ALLOWED_REDIRECT_ORIGINS: "https://app.example.com/, http://localhost:3000",
    });
    expect(config.publicUrl).toBe("https://keys.example.com");
    expect(config.allowedRedirectOrigins).toEqual([
      "https://keys.example.com",
      "https://app.example.com",
      "http://localhost:3000",
    ]);
    expect(loadConfig({ ALLOWED_REDIRECT_ORIGINS: "HTTPS://App.Example.com:443" }).allowedRedirectOrigins).toContain(
      "https://app.example.com",
    );
  });

  it('refuses an allowed origin that is not an http(s) origin, so "null" is never allowed', () => {
    const bad = [
      "app.example.com", // no scheme: an opaque origin, "null"
      "localhost:3000", // parses as scheme "localhost:"
      "null",
      "file:///etc",
      "data:text/html,x",
      "javascript:alert(1)",
      "ftp://app.example.com",
      "https://app.example.com/path",
      "https://app.example.com?x=1",
      "https://app.example.com#x",
      "https://user:pw@app.example.com",
      "https://user@app.example.com",
      "https://",
    ];
    for (const entry of bad) {
      expect(() => loadConfig({ ALLOWED_REDIRECT_ORIGINS: `https://ok.example.com,${entry}` }), entry).toThrow(
        /ALLOWED_REDIRECT_ORIGINS.*not an http\(s\) origin/,
      );
    }
  });

  it('never yields the opaque origin "null" from PUBLIC_URL either', () => {
    for (const url of ["file:///srv/keygate", "keygate.example.com", "mailto:a@example.com"]) {
      expect(() => loadConfig({ PUBLIC_URL: url }), url).toThrow(/PUBLIC_URL/);
    }
  });
});

describe("loadKeySettings: the failure limit", () => {
  it("defaults to 60 failures a minute, takes 0 to turn the limit off, and refuses nonsense", () => {
    expect(loadKeySettings({}).failuresPerMinute).toBe(60);
    expect(loadKeySettings({ API_KEY_FAILURES_PER_MINUTE: "0" }).failuresPerMinute).toBe(0);
    expect(() => loadKeySettings({ API_KEY_FAILURES_PER_MINUTE: "-1" })).toThrow(/API_KEY_FAILURES_PER_MINUTE/);
  });
});

describe("loadClientAddressSettings", () => {
  it("defaults to cf-connecting-ip, no trusted proxy and IPv6 by /64", () => {
    const settings = loadClientAddressSettings({});
    expect(settings.header).toBe("cf-connecting-ip");
    expect(settings.trustedProxies.isEmpty).toBe(true);
    expect(settings.ipv6Prefix).toBe(64);
    expect(loadConfig({}).clientAddress.header).toBe("cf-connecting-ip");
  });

  it("reads x-forwarded-for by default once TRUSTED_PROXIES is set, and CLIENT_IP_HEADER wins over both", () => {
    const proxied = loadClientAddressSettings({ TRUSTED_PROXIES: "127.0.0.1, 10.0.0.0/8" });
    expect(proxied.header).toBe("x-forwarded-for");
    expect(String(proxied.trustedProxies)).toBe("127.0.0.1, 10.0.0.0/8");
    expect(loadClientAddressSettings({ TRUSTED_PROXIES: "127.0.0.1", CLIENT_IP_HEADER: "Forwarded" }).header).toBe(
      "forwarded",
    );
    expect(loadClientAddressSettings({ CLIENT_IP_HEADER: "X-Real-IP" }).header).toBe("x-real-ip");
    expect(loadClientAddressSettings({ CLIENT_IP_HEADER: "none", TRUSTED_PROXIES: "::1" }).header).toBeNull();
  });

  it("stops start-up on a bad TRUSTED_PROXIES entry, header name or IPv6 prefix", () => {
    expect(() => loadConfig({ TRUSTED_PROXIES: "127.0.0.1, proxy.internal" })).toThrow(
      /^TRUSTED_PROXIES: "proxy\.internal" is not an IP address or CIDR range/,
    );
    expect(() => loadClientAddressSettings({ CLIENT_IP_HEADER: "x real ip" })).toThrow(/CLIENT_IP_HEADER/);
    expect(loadClientAddressSettings({ CLIENT_IPV6_PREFIX: "48" }).ipv6Prefix).toBe(48);
    for (const bad of ["31", "129", "64.5", "x"]) {
      expect(() => loadClientAddressSettings({ CLIENT_IPV6_PREFIX: bad }), bad).toThrow(
        /CLIENT_IPV6_PREFIX.*32 to 128/,
      );
    }
  });
});

describe("loadConfig: Supabase users whose email nothing can confirm", () => {
  const supabase = { SUPABASE_URL: "https://abcdefghijklmnopqrst.supabase.co", SUPABASE_JWKS: '{"keys": []}' };

  it("refuses to start in production with Supabase tokens accepted but no publishable key and no hook", () => {
    expect(() => loadConfig(supabase)).toThrow(SUPABASE_EMAIL_UNPROVABLE);
    expect(() => loadConfig({ SUPABASE_URL: supabase.SUPABASE_URL })).toThrow(/SUPABASE_PUBLISHABLE_KEY/);
    expect(SUPABASE_EMAIL_UNPROVABLE).toMatch(/SUPABASE_EMAIL_VERIFIED_CLAIM=true/);
  });

  it("starts with a publishable key, with a hook's claim acknowledged, or in development", () => {
    expect(loadConfig({ ...supabase, SUPABASE_ANON_KEY: "anon" }).supabaseApiKey).toBe("anon");
    expect(loadConfig({ ...supabase, SUPABASE_PUBLISHABLE_KEY: "sb_publishable_x" }).supabaseApiKey).toBeDefined();
    expect(loadConfig({ ...supabase, SUPABASE_EMAIL_VERIFIED_CLAIM: "true" }).supabaseEmailVerifiedClaim).toBe(true);
    expect(loadConfig({ ...supabase, KEYGATE_ENV: "development" }).production).toBe(false);
    // Without Supabase tokens there is nothing to confirm.
    expect(loadConfig({}).supabaseEmailVerifiedClaim).toBe(false);
    expect(() => loadConfig({ ...supabase, SUPABASE_EMAIL_VERIFIED_CLAIM: "yes" })).toThrow(
      /SUPABASE_EMAIL_VERIFIED_CLAIM must be true or false/,
    );
  });
});

describe("loadAuthLimitSettings: refused sign-ins and code exchanges", () => {
  it("defaults to 30 a minute per client address and 10 per account", () => {
    expect(loadAuthLimitSettings({})).toEqual({ failuresPerMinute: 30, accountFailuresPerMinute: 10 });
    expect(loadConfig({}).authLimits).toEqual({ failuresPerMinute: 30, accountFailuresPerMinute: 10 });
  });

  it("takes whole numbers, 0 to turn a limit off, and refuses others", () => {
    expect(loadAuthLimitSettings({ AUTH_FAILURES_PER_MINUTE: "0", AUTH_ACCOUNT_FAILURES_PER_MINUTE: "5" })).toEqual({
      failuresPerMinute: 0,
      accountFailuresPerMinute: 5,
    });
    expect(() => loadAuthLimitSettings({ AUTH_FAILURES_PER_MINUTE: "1.5" })).toThrow(/AUTH_FAILURES_PER_MINUTE/);
    expect(() => loadAuthLimitSettings({ AUTH_ACCOUNT_FAILURES_PER_MINUTE: "-1" })).toThrow(
      /AUTH_ACCOUNT_FAILURES_PER_MINUTE/,
    );
  });
});

describe("isLoopbackHost", () => {
  it("knows 127.0.0.0/8, ::1 and localhost, and nothing else", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "[::1]", "::1", "localhost", "LOCALHOST"])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ["10.0.0.1", "127.0.0.1.evil.example", "localhost.evil.example", "0.0.0.0", "::"])
      expect(isLoopbackHost(host), host).toBe(false);
  });
});
