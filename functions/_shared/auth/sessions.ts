/**
 * Stateful dashboard sessions (public.sessions). The cookie carries an opaque
 * random token (base64url of 32 bytes); the database keeps only its SHA-256.
 * Sessions slide (12 hours since last use) up to an absolute 7 days; logout
 * deletes the row, and `get_session` returns nothing for an inactive user,
 * so both take effect on the very next request.
 */

import { base64url } from "../core/base64url.ts";
import { sha256 } from "../core/hash.ts";
import type { Db } from "../db/db.ts";
import type { AuthenticatedUser } from "./user.ts";

export const SESSION_TTL_SECONDS = 12 * 60 * 60;
export const SESSION_MAX_LIFETIME_SECONDS = 7 * 24 * 60 * 60;

/** What a session proves: the signed-in user, less how. */
export type SessionUser = Omit<AuthenticatedUser, "via">;

export interface SessionStore {
  /** A fresh random token and the hash the database keeps of it. */
  newToken(): Promise<{ token: string; tokenHash: Uint8Array }>;
  resolve(token: string | undefined): Promise<SessionUser | null>;
  end(token: string | undefined): Promise<void>;
}

/**
 * The shape of a session token: 43 base64url characters, no dots (a Supabase
 * access token is a JWT, with dots), so a bearer tells which kind it is.
 */
export const SESSION_TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** What the database stores of a session token: its SHA-256, never the token. */
export function hashSessionToken(token: string): Uint8Array {
  return sha256(token);
}

export function createSessionStore(db: Db): SessionStore {
  return {
    async newToken() {
      const token = base64url(crypto.getRandomValues(new Uint8Array(32)));
      return { token, tokenHash: hashSessionToken(token) };
    },
    async resolve(token) {
      // A token of the wrong shape cannot exist: refuse it without a query.
      if (!token || !SESSION_TOKEN_SHAPE.test(token)) return null;
      const rows = await db.query<SessionUser & { user_id: string }>(
        "select user_id, email, name, image_url, role from keygate.get_session($1, $2, $3)",
        [hashSessionToken(token), SESSION_TTL_SECONDS, SESSION_MAX_LIFETIME_SECONDS],
      );
      const row = rows[0];
      return row
        ? { id: row.user_id, email: row.email, name: row.name, image_url: row.image_url, role: row.role }
        : null;
    },
    async end(token) {
      if (!token || !SESSION_TOKEN_SHAPE.test(token)) return;
      await db.query("select keygate.end_session($1)", [hashSessionToken(token)]);
    },
  };
}
