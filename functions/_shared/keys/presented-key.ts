/**
 * The API key a request presents: the `x-api-key` header, else
 * `Authorization: Bearer <key>`; null when it presents none. `x-api-key`
 * comes first because supabase-js's `functions.invoke` always sends
 * `Authorization: Bearer <anon key>`, and a backend job puts its API key
 * beside it.
 */
export function presentedKey(req: Request): string | null {
  const header = req.headers.get("x-api-key")?.trim();
  if (header) return header;
  const authorization = req.headers.get("authorization")?.trim();
  if (!authorization) return null;
  const match = /^Bearer +(\S+)$/i.exec(authorization);
  // Any other Authorization value (another scheme, or a bare key) was meant as
  // a credential: it counts as presented, and is refused like a wrong key.
  return match ? match[1] : "";
}
