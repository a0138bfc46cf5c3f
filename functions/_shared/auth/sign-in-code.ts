/**
 * The cross-site end of a sign-in: instead of a session cookie (which a
 * dashboard on another site never gets to send), a single-use code for the
 * dashboard to exchange at `POST /auth/token`. Records the sign-in in one
 * statement, so it is all or nothing: upserts the user from the provider
 * identity and stores the code's SHA-256 with the PKCE challenge and the
 * origin it is sent to, valid for SIGN_IN_CODE_TTL_SECONDS. Returns the code,
 * which exists nowhere else.
 */

import type { Db } from "../db.ts";
import { sha256 } from "../hash.ts";
import { base64url } from "./base64url.ts";
import { identityParams } from "./identity-params.ts";
import type { ProviderProfile } from "./oauth-provider.ts";
import { assertVerifiedEmail } from "./sign-in.ts";

export const SIGN_IN_CODE_TTL_SECONDS = 60;

/** A code and a challenge both are 43 base64url characters (32 random bytes; a SHA-256). */
export const SIGN_IN_CODE_SHAPE = /^[A-Za-z0-9_-]{43}$/;
export const CODE_CHALLENGE_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** What the database stores of a sign-in code: its SHA-256, never the code. */
export function hashSignInCode(code: string): Uint8Array {
  return sha256(code);
}

export async function issueSignInCode(
  db: Db,
  provider: string,
  profile: ProviderProfile,
  grant: { codeChallenge: string; origin: string },
): Promise<{ code: string; userId: string }> {
  assertVerifiedEmail(profile);
  const code = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const rows = await db.query<{ id: string }>(
    `select u.id, keygate.create_sign_in_code(u.id, $7, $8, $9, $10) as expires_at
       from keygate.upsert_user_from_identity($1, $2, $3, $4, $5, $6) u`,
    [
      ...identityParams(provider, profile),
      hashSignInCode(code),
      grant.codeChallenge,
      grant.origin,
      SIGN_IN_CODE_TTL_SECONDS,
    ],
  );
  if (!rows[0]) throw new Error("sign-in returned no user");
  return { code, userId: rows[0].id };
}
