/**
 * The Keygate session token in `Authorization: Bearer <token>`, or null. A
 * session token is 43 base64url characters without dots; a Supabase access
 * token is a JWT (with dots), so the two never look alike.
 */
import { SESSION_TOKEN_SHAPE } from "./sessions.ts";

export function sessionBearer(req: Request): string | null {
  const match = /^Bearer +(\S+) *$/i.exec(req.headers.get("authorization") ?? "");
  return match && SESSION_TOKEN_SHAPE.test(match[1]) ? match[1] : null;
}
