/**
 * Reading and writing cookies: a tolerant parser for the `Cookie` header and
 * a serializer for `Set-Cookie` that always says HttpOnly and SameSite.
 */
export interface CookieOptions {
  path: string;
  /** Seconds; 0 deletes the cookie. Omit for a browser-session cookie. */
  maxAge?: number;
  secure: boolean;
  sameSite?: "Lax" | "Strict";
}

/** The cookies of a request by name (the first value wins, as browsers send the most specific first). */
export function readCookies(req: Request): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (name && !cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE = /^[!#-+\--:<-[\]-~]*$/; // cookie-octet: no space, quote, comma, semicolon or backslash

/** One `Set-Cookie` header value. */
export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  if (!TOKEN.test(name)) throw new TypeError("invalid cookie name");
  if (!VALUE.test(value)) throw new TypeError("invalid cookie value");
  const parts = [`${name}=${value}`, `Path=${options.path}`];
  if (options.maxAge !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(options.maxAge))}`);
  if (options.maxAge === 0) parts.push("Expires=Thu, 01 Jan 1970 00:00:00 GMT");
  parts.push("HttpOnly");
  if (options.secure) parts.push("Secure");
  parts.push(`SameSite=${options.sameSite ?? "Lax"}`);
  return parts.join("; ");
}
