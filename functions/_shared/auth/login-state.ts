/**
 * The state of one sign-in attempt, sealed into the login cookie: encrypted
 * and authenticated (JWE, `dir` + A256GCM) with a key derived from
 * SESSION_SECRET by HKDF-SHA-256, valid for ten minutes. Anything that does not
 * decrypt under that key (tampered, forged, `alg: none`, expired) opens to null.
 */
import { EncryptJWT, jwtDecrypt } from "jose";
import { z } from "zod";
import { CODE_CHALLENGE_SHAPE } from "./code-shapes.ts";

export const LOGIN_STATE_TTL_SECONDS = 600;

export interface LoginState {
  provider: string;
  state: string;
  codeVerifier: string;
  nonce: string;
  /** Absolute URL, already validated by resolveRedirect. */
  redirectTo: string;
  /**
   * Set for a cross-site dashboard: the S256 challenge of the page's
   * verifier. The callback then returns a single-use code instead of a cookie.
   */
  codeChallenge?: string;
}

export interface LoginStateSealer {
  seal(state: LoginState): Promise<string>;
  open(token: string | undefined): Promise<LoginState | null>;
}

const loginStateSchema = z.object({
  provider: z.string().min(1).max(32),
  state: z.string().min(16).max(128),
  codeVerifier: z.string().min(43).max(128),
  nonce: z.string().min(16).max(128),
  redirectTo: z.string().min(1).max(2048),
  codeChallenge: z.string().regex(CODE_CHALLENGE_SHAPE).optional(),
});

async function deriveKey(secret: string): Promise<Uint8Array> {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new TextEncoder().encode("keygate"),
      info: new TextEncoder().encode("keygate login-state v1"),
    },
    material,
    256,
  );
  return new Uint8Array(bits);
}

export function createLoginStateSealer(secret: string, now: () => number = Date.now): LoginStateSealer {
  const key = deriveKey(secret);
  return {
    async seal(state) {
      const issuedAt = Math.floor(now() / 1000);
      return await new EncryptJWT({ ...loginStateSchema.parse(state) })
        .setProtectedHeader({ alg: "dir", enc: "A256GCM", typ: "kg-login+jwt" })
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + LOGIN_STATE_TTL_SECONDS)
        .encrypt(await key);
    },
    async open(token) {
      if (!token || token.length > 8192) return null;
      try {
        const { payload } = await jwtDecrypt(token, await key, {
          keyManagementAlgorithms: ["dir"],
          contentEncryptionAlgorithms: ["A256GCM"],
          typ: "kg-login+jwt",
          currentDate: new Date(now()),
          maxTokenAge: LOGIN_STATE_TTL_SECONDS,
          requiredClaims: ["exp", "iat"],
        });
        const parsed = loginStateSchema.safeParse(payload);
        return parsed.success ? parsed.data : null;
      } catch {
        return null;
      }
    },
  };
}
