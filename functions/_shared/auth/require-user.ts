/**
 * The signed-in user behind a request, for every route that takes a session:
 * `Authorization: Bearer <Supabase access token>` (when SUPABASE_JWKS or
 * SUPABASE_JWKS_URL is set), else the session cookie. Throws 401
 * `unauthorized` when neither yields an active user. `via: "session"` tells
 * the caller that CSRF (Origin) checks apply.
 *
 * A Supabase user is linked as identity (`supabase`, sub). To keep requests
 * read-only in steady state, the user is looked up first and upserted only
 * when missing or when their last sign-in is over an hour old (which also
 * refreshes name and image from the token).
 */

import { requestMeta } from "../audit/request-meta.ts";
import type { Config } from "../config/config.ts";
import { KeygateError } from "../core/errors.ts";
import type { Db } from "../db/db.ts";
import type { UserRow } from "../db/rows.ts";
import { recordSignInEvent } from "./auth-events.ts";
import { cookieSettings } from "./cookie-settings.ts";
import { readCookies } from "./cookies.ts";
import { sessionBearer } from "./session-bearer.ts";
import { createSessionStore } from "./sessions.ts";
import { createSupabaseAuthUserLookup } from "./supabase-auth-user.ts";
import { createSupabaseTokenVerifier } from "./supabase-token.ts";
import type { AuthenticatedUser } from "./user.ts";

export const SUPABASE_REFRESH_SECONDS = 60 * 60;

function bearerToken(req: Request): string | null {
  const match = /^Bearer +([A-Za-z0-9\-_.~+/]+=*) *$/i.exec(req.headers.get("authorization") ?? "");
  return match ? match[1] : null;
}

function unauthorized(): KeygateError {
  return new KeygateError("unauthorized", "Sign in first.", {
    headers: { "www-authenticate": 'Bearer realm="keygate"' },
  });
}

export function createUserResolver(deps: {
  config: Config;
  db: Db;
  fetchImpl?: typeof fetch;
  now?: () => number;
}): (req: Request) => Promise<AuthenticatedUser> {
  const { config, db } = deps;
  const now = deps.now ?? Date.now;
  const sessions = createSessionStore(db);
  const verifySupabase = createSupabaseTokenVerifier(config, { fetchImpl: deps.fetchImpl, now });
  const lookupSupabaseUser = verifySupabase && createSupabaseAuthUserLookup(config, { fetchImpl: deps.fetchImpl });
  const sessionCookie = cookieSettings(config).session.name;

  /**
   * A Supabase user. The token proves the `sub`; whether its email is the
   * user's own, and so may link to (or create) a Keygate user, comes from a
   * source the user cannot write: a hook's `email_verified` claim, else
   * Supabase Auth's own answer, asked only when the `sub` is new or its email
   * changed. Without that proof a new `sub` gets 403 and nothing is written.
   */
  async function fromBearer(req: Request, token: string): Promise<AuthenticatedUser | null> {
    const identity = await verifySupabase?.(token);
    if (!identity) return null;
    const [found] = await db.query<UserRow>("select * from keygate.find_user_by_identity('supabase', $1)", [
      identity.subject,
    ]);
    let user: UserRow | undefined = found;
    if (user && !user.is_active) return null;
    const stale = !user?.last_login_at || now() - user.last_login_at.getTime() > SUPABASE_REFRESH_SECONDS * 1000;
    if (!user || stale) {
      const sameEmail = user !== undefined && identity.email?.toLowerCase() === user.email.toLowerCase();
      let email = sameEmail && user ? user.email : identity.email;
      let confirmed = sameEmail || (identity.email !== null && identity.emailVerified);
      if (!confirmed) {
        const answer = await lookupSupabaseUser?.(token);
        if (answer === null) return null; // Supabase Auth no longer stands behind this token
        if (answer && answer.subject === identity.subject && answer.emailConfirmed) {
          email = answer.email;
          confirmed = true;
        }
      }
      if (!user && !confirmed) {
        throw new KeygateError("email_unverified", "Supabase Auth has not confirmed this account's email address.");
      }
      // A known user whose new address is unconfirmed keeps the one Keygate holds; name and picture still refresh.
      if (!confirmed && user) email = user.email;
      try {
        [user] = await db.query<UserRow>(
          "select * from keygate.upsert_user_from_identity('supabase', $1, $2, $3, $4, $5)",
          [identity.subject, email, true, identity.name, identity.imageUrl],
        );
      } catch (err) {
        if (err instanceof KeygateError && err.code === "user_inactive") return null;
        throw err;
      }
    }
    if (!user) return null;
    if (!found) {
      // The first sight of this Supabase user is their sign-in: it settles a new
      // user's role (DEFAULT_ROLE, ADMIN_EMAILS) and is recorded in the audit log.
      const role = await recordSignInEvent(db, requestMeta(req, config.clientAddress), {
        userId: user.id,
        provider: "supabase",
        roles: config.roles,
      });
      if (role) user = { ...user, role };
    }
    return {
      id: user.id,
      email: user.email,
      name: user.name,
      image_url: user.image_url,
      role: user.role,
      via: "bearer",
    };
  }

  return async (req) => {
    const bearer = bearerToken(req);
    // A Keygate session token as a bearer (a dashboard on another site): the same session as the cookie.
    const sessionToken = sessionBearer(req);
    if (sessionToken) {
      const session = await sessions.resolve(sessionToken);
      if (session) return { ...session, via: "bearer" };
    } else if (bearer) {
      const user = await fromBearer(req, bearer);
      if (user) return user;
    }
    const session = await sessions.resolve(readCookies(req).get(sessionCookie));
    if (session) return { ...session, via: "session" };
    throw unauthorized();
  };
}
