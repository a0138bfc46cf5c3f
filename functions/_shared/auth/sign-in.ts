/**
 * Records a successful sign-in in one statement, so it is all or nothing:
 * upserts the user from the provider identity (matched by provider and
 * subject; the SQL function refuses unverified emails and inactive users and
 * sets last_login_at) and creates a session for them. Returns the new session
 * token, which exists nowhere else.
 */

import type { Db } from "../db.ts";
import { KeygateError } from "../errors.ts";
import { identityParams } from "./identity-params.ts";
import type { ProviderProfile } from "./oauth-provider.ts";
import { createSessionStore, SESSION_TTL_SECONDS } from "./sessions.ts";

/** Refuses a profile without a plausible email address that the provider says it verified. */
export function assertVerifiedEmail(profile: ProviderProfile): void {
  const email = profile.email;
  if (!email || !profile.emailVerified || email.length > 320 || !/^[^@\s]+@[^@\s]+$/.test(email)) {
    throw new KeygateError("email_unverified", "The provider did not confirm an email address for this account.");
  }
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
