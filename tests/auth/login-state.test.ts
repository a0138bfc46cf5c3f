/**
 * The login cookie: sealed (encrypted and authenticated) for ten minutes;
 * anything else opens to null.
 */

import { base64url, EncryptJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { createLoginStateSealer, type LoginState } from "../../functions/_shared/auth/login-state.ts";

const state: LoginState = {
  provider: "oidc",
  state: "s".repeat(43),
  codeVerifier: "v".repeat(43),
  nonce: "n".repeat(43),
  redirectTo: "http://127.0.0.1:54321/",
};

describe("login state", () => {
  it("round-trips and hides its content", async () => {
    const sealer = createLoginStateSealer("secret-one");
    const token = await sealer.seal(state);
    expect(token.split(".")).toHaveLength(5); // a compact JWE
    expect(token).not.toContain(base64url.encode(state.codeVerifier).slice(0, 20));
    expect(await sealer.open(token)).toEqual(state);
  });

  it("refuses a cookie sealed under another SESSION_SECRET", async () => {
    const token = await createLoginStateSealer("secret-one").seal(state);
    expect(await createLoginStateSealer("secret-two").open(token)).toBeNull();
  });

  it("refuses a tampered cookie", async () => {
    const sealer = createLoginStateSealer("secret-one");
    const parts = (await sealer.seal(state)).split(".");
    const ciphertext = base64url.decode(parts[3]);
    ciphertext[0] ^= 1;
    parts[3] = base64url.encode(ciphertext);
    expect(await sealer.open(parts.join("."))).toBeNull();
  });

  it("refuses an alg: none token carrying a state of the attacker's choosing", async () => {
    const forged = new UnsecuredJWT({ ...state }).setIssuedAt().setExpirationTime("10m").encode();
    expect(await createLoginStateSealer("secret-one").open(forged)).toBeNull();
  });

  it("refuses a JWE encrypted with a key the attacker chose", async () => {
    const forged = await new EncryptJWT({ ...state })
      .setProtectedHeader({ alg: "dir", enc: "A256GCM", typ: "kg-login+jwt" })
      .setIssuedAt()
      .setExpirationTime("10m")
      .encrypt(new Uint8Array(32));
    expect(await createLoginStateSealer("secret-one").open(forged)).toBeNull();
  });

  it("expires after ten minutes", async () => {
    let now = Date.now();
    const sealer = createLoginStateSealer("secret-one", () => now);
    const token = await sealer.seal(state);
    now += 599_000;
    expect(await sealer.open(token)).toEqual(state);
    now += 2_000;
    expect(await sealer.open(token)).toBeNull();
  });

  it("refuses nothing, garbage and oversized values", async () => {
    const sealer = createLoginStateSealer("secret-one");
    for (const v of [undefined, "", "a.b.c.d.e", "x".repeat(10_000)]) expect(await sealer.open(v)).toBeNull();
  });
});
