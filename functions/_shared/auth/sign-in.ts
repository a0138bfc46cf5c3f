/**
 * The statement that ends a sign-in, in its two forms, each all or nothing:
 * it upserts the user from the provider identity (matched by provider and
 * subject; the SQL function refuses unverified emails and inactive users and
 * sets last_login_at), then either
 * - creates a session (`recordSignIn`), returning its token, or
 * - for a dashboard on another site, which never gets to send a session
 *   cookie, stores a single-use code for `POST /auth/token`
 *   (`issueSignInCode`): its SHA-256 with the PKCE challenge and the origin it
 *   is sent to, valid for SIGN_IN_CODE_TTL_SECONDS, returning the code.
 * The token or code exists nowhere else.
 */
import { base64url } from "../core/base64url.ts";
import { KeygateError } from "../core/errors.ts";
import { sha256 } from "../core/hash.ts";
import type { Db } from "../db/db.ts";
import type { ProviderProfile } from "./oauth-provider.ts";
import { createSessionStore, SESSION_TTL_SECONDS } from "./sessions.ts";

export const SIGN_IN_CODE_TTL_SECONDS = 60;

/** Refuses a profile without a plausible email address that the provider says it verified. */
export function assertVerifiedEmail(profile: ProviderProfile): void {
  const email = profile.email;
  if (!email || !profile.emailVerified || email.length > 320 || !/^[^@\s]+@[^@\s]+$/.test(email)) {
    throw new KeygateError("email_unverified", "The provider did not confirm an email address for this account.");
  }
}

/** What the database stores of a sign-in code: its SHA-256, never the code. */
export function hashSignInCode(code: string): Uint8Array {
  return sha256(code);
}

/** `$1`-`$6` of `keygate.upsert_user_from_identity`, for a profile a provider vouched for. */
function identityParams(provider: string, profile: ProviderProfile): unknown[] {
  return [provider, profile.subject, profile.email, profile.emailVerified, profile.name, profile.imageUrl];
}

export async function recordSignIn(
  db: Db,
  provider: string,
  profile: ProviderProfile,
): Promise<{ token: string; userId: string }> {
  assertVerifiedEmail(profile);
  const { token, tokenHash } = await createSessionStore(db).newToken();
  const rows = await db.query<{ id: string }>(
    `select u.id, keygate.create_session(u.id, $7, $8) as expires_at
       from keygate.upsert_user_from_identity($1, $2, $3, $4, $5, $6) u`,
    [...identityParams(provider, profile), tokenHash, SESSION_TTL_SECONDS],
  );
  if (!rows[0]) throw new Error("sign-in returned no user");
  return { token, userId: rows[0].id };
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
