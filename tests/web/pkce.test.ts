/**
 * The dashboard's verifier and S256 challenge (web/pkce.js) on Node's Web
 * Crypto, checked against node:crypto and RFC 7636's own example.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { s256 } from "../../functions/_shared/handlers/auth/token.ts";
import { challengeFor, newVerifier } from "../../web/pkce.js";

describe("PKCE in the dashboard", () => {
  it("makes 43-character base64url verifiers that differ every time", () => {
    const seen = new Set(Array.from({ length: 50 }, () => newVerifier()));
    expect(seen.size).toBe(50);
    for (const v of seen) expect(v).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("computes the S256 challenge as RFC 7636 appendix B does", async () => {
    expect(await challengeFor("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("agrees with node:crypto and with the server's check", async () => {
    const verifier = newVerifier();
    const challenge = await challengeFor(verifier);
    expect(challenge).toBe(createHash("sha256").update(verifier).digest("base64url"));
    expect(s256(verifier)).toBe(challenge);
  });
});
