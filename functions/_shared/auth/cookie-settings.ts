/**
 * Names, paths and flags of Keygate's two cookies, derived from PUBLIC_URL.
 *
 * - the session cookie (`kg_session`, `__Host-kg_session` on https) holds an
 *   opaque session token for the whole site (path `/`);
 * - the login cookie (`kg_login`, `__Secure-kg_login` on https) holds the
 *   sealed state of one sign-in attempt and is sent only to the auth function.
 */
import type { Config } from "../config.ts";

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
    login: { name: secure ? "__Secure-kg_login" : "kg_login", path: `${base}/functions/v1/auth` },
  };
}
