import { describe, expect, it } from "vitest";
import { loadConfig, SUPABASE_EMAIL_UNPROVABLE } from "../../functions/_shared/config/config.ts";
import type { Env } from "../../functions/_shared/config/env.ts";
import { startupNotes } from "../../functions/_shared/config/startup-notes.ts";

const notes = (env: Env) => startupNotes(loadConfig({ KEYGATE_ENV: "development", ...env }));

describe("startupNotes: the client address source", () => {
  it("says the TCP peer is the client when no proxy is trusted", () => {
    expect(notes({})).toEqual([
      "Client address: the TCP peer (TRUSTED_PROXIES is empty, so no address header is read).",
    ]);
    expect(notes({ CLIENT_IP_HEADER: "none", TRUSTED_PROXIES: "127.0.0.1" })[0]).toMatch(
      /^Client address: the TCP peer \(CLIENT_IP_HEADER=none/,
    );
  });

  it("names the header and the trusted proxies", () => {
    expect(notes({ TRUSTED_PROXIES: "127.0.0.1,::1" })[0]).toBe(
      "Client address: the x-forwarded-for header from a trusted proxy (127.0.0.1, ::1); any other TCP peer is the client itself.",
    );
    expect(notes({ TRUSTED_PROXIES: "10.0.0.0/8", CLIENT_IP_HEADER: "forwarded" })[0]).toMatch(
      /the forwarded header from a trusted proxy \(10\.0\.0\.0\/8\)/,
    );
  });

  it("warns when every peer is trusted, and that cf-connecting-ip is then whatever the client sends", () => {
    const [line] = notes({ TRUSTED_PROXIES: "0.0.0.0/0, ::/0" });
    expect(line).toMatch(/the x-forwarded-for header, from any peer\. Warning: .*can claim any address/);
    expect(line).not.toMatch(/cf-connecting-ip/);
    const [cf] = notes({ TRUSTED_PROXIES: "0.0.0.0/0", CLIENT_IP_HEADER: "cf-connecting-ip" });
    expect(cf).toMatch(
      /Only Cloudflare in front of this server makes cf-connecting-ip true; otherwise it is whatever the client sends/,
    );
  });
});

describe("startupNotes: Supabase users whose email nothing can confirm", () => {
  const supabase = { SUPABASE_URL: "https://abcdefghijklmnopqrst.supabase.co", SUPABASE_JWKS: '{"keys": []}' };

  it("says so in development, once", () => {
    expect(notes(supabase)).toContain(`Warning: ${SUPABASE_EMAIL_UNPROVABLE}`);
    expect(notes(supabase)).toHaveLength(2);
  });

  it("says nothing with a publishable key, with the hook's claim acknowledged, or without Supabase tokens", () => {
    expect(notes({ ...supabase, SUPABASE_ANON_KEY: "anon" })).toHaveLength(1);
    expect(notes({ ...supabase, SUPABASE_EMAIL_VERIFIED_CLAIM: "true" })).toHaveLength(1);
    expect(notes({})).toHaveLength(1);
  });
});
