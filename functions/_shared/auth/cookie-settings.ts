/**
 * Names, paths and flags of Keygate's two cookies, derived from PUBLIC_URL.
 *
 * - the session cookie (`kg_session`, `__Host-kg_session` on https) holds an
 *   opaque session token for the whole site (path `/`);
 * - the login cookie (`kg_login`, `__Host-kg_login` on https) holds the sealed
 *   state of one sign-in attempt. On https it is `__Host-` so that no sibling
 *   subdomain can plant one (a `__Host-` cookie must be host-only, Secure,
 *   path `/`), which is why it then reaches every path; on http, where no
 *   prefix protects it, it keeps the narrowest path, the auth function's.
 *
 * Only the auth function's callback reads the login cookie, and only the
 * session resolver the session cookie, each by its exact name.
 */
import type { Config } from "../config/config.ts";

export interface CookieSettings {
  secure: boolean;
  session: { name: string; path: string };
  login: { name: string; path: string };
}

export function cookieSettings(config: Pick<Config, "publicUrl">): CookieSettings {
  const url = new URL(config.publicUrl);
  const secure = url.protocol === "https:";
  const base = url.pathname.replace(/\/+$/, "");
  return {
    secure,
    session: { name: secure ? "__Host-kg_session" : "kg_session", path: "/" },
    login: secure ? { name: "__Host-kg_login", path: "/" } : { name: "kg_login", path: `${base}/functions/v1/auth` },
  };
}
