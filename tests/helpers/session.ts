/**
 * A signed-in user for tests: a user row plus a real session, made the way
 * the auth function makes them (as docs/architecture.md describes: the cookie holds a random
 * base64url token, the database stores its SHA-256).
 */
import { createHash, randomBytes } from "node:crypto";
import type pg from "pg";
import { createUser } from "./database.ts";

export interface SignedInUser {
  id: string;
  email: string;
  /** The session token (a secret: never log it). */
  token: string;
  /** A `Cookie` header value: `kg_session=<token>`. */
  cookie: string;
}

export async function createSession(admin: pg.Pool, userId: string, ttlSeconds = 3600): Promise<string> {
  const token = randomBytes(32).toString("base64url");
  const hash = createHash("sha256").update(token, "utf8").digest();
  await admin.query("select keygate.create_session($1, $2, $3)", [userId, hash, ttlSeconds]);
  return token;
}

/** A user (role `member` unless given) with a live session and the given operator capabilities. */
export async function createSignedInUser(
  admin: pg.Pool,
  fields: { email?: string; name?: string; role?: string; capabilities?: string[] } = {},
): Promise<SignedInUser> {
  const { capabilities = [], ...profile } = fields;
  const user = await createUser(admin, profile);
  for (const capability of capabilities) {
    await admin.query("insert into public.user_capabilities (user_id, capability) values ($1, $2)", [
      user.id,
      capability,
    ]);
  }
  const token = await createSession(admin, user.id);
  return { ...user, token, cookie: `kg_session=${token}` };
}

/** A cookie-authenticated request from the dashboard's own origin. */
export function asUser(user: SignedInUser, origin: string, init: RequestInit & { json?: unknown } = {}) {
  return { ...init, headers: { cookie: user.cookie, origin, ...(init.headers as Record<string, string>) } };
}
