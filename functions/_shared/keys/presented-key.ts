/**
 * The API key a request presents: the `x-api-key` header, else
 * `Authorization: Bearer <key>`. `x-api-key` comes first because
 * supabase-js's `functions.invoke` always sends `Authorization: Bearer
 * <anon key>`, and a backend job puts its API key beside it.
 */
export function presentedKey(req: Request): string | null {
  const header = req.headers.get("x-api-key");
  if (header !== null) return header.trim();
  const authorization = req.headers.get("authorization");
  if (authorization === null) return null;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  return match ? match[1] : authorization;
}
