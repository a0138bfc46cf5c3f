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

export async function createSignedInUser(
  admin: pg.Pool,
  fields: { email?: string; name?: string; role?: string } = {},
): Promise<SignedInUser> {
  const user = await createUser(admin, fields);
  const token = await createSession(admin, user.id);
  return { ...user, token, cookie: `kg_session=${token}` };
}
