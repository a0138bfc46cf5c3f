/**
 * The Keygate session token in `Authorization: Bearer <token>`, or null. A
 * session token is 43 base64url characters without dots; a Supabase access
 * token is a JWT (with dots), so the two never look alike.
 */
const SESSION_BEARER = /^Bearer +([A-Za-z0-9_-]{43}) *$/i;

export function sessionBearer(req: Request): string | null {
  const match = SESSION_BEARER.exec(req.headers.get("authorization") ?? "");
  return match ? match[1] : null;
}
