// @ts-check
/**
 * Where sign-in starts and how it ends, for both deployments:
 *
 * - same origin as the functions: the provider links return to this path and
 *   the server sets its HttpOnly session cookie, as always;
 * - another site (cross-origin): the links carry the S256 challenge of a
 *   fresh verifier kept in this tab; the sign-in comes back with a
 *   single-use code in the fragment (`#code=...`), which this page removes
 *   from the address at once and exchanges, with the verifier, at
 *   `POST /auth/token` for a session token sent as `Authorization: Bearer`.
 */
import { api, crossOrigin, functionsBase } from "./api.js";
import { challengeFor, newVerifier } from "./pkce.js";
import { pendingVerifier, sessionToken } from "./session-token.js";

/**
 * Makes the sign-in URLs for this page; cross-origin, with a fresh verifier.
 * @returns {Promise<(providerId: string) => string>}
 */
export async function loginUrls() {
  const params = new URLSearchParams({
    redirect_to: crossOrigin ? `${location.origin}${location.pathname}` : location.pathname,
  });
  if (crossOrigin) {
    const verifier = newVerifier();
    pendingVerifier.set(verifier);
    params.set("code_challenge", await challengeFor(verifier));
    params.set("code_challenge_method", "S256");
  }
  return (providerId) => `${functionsBase}/auth/login/${encodeURIComponent(providerId)}?${params}`;
}

/**
 * Takes what a sign-in left in the address (`#code=`/`#error=` cross-origin,
 * `?error=` same-origin) out of it at once, and exchanges a code for a
 * session token. Throws an ApiError when the exchange is refused.
 * @returns {Promise<string | null>} a sign-in error code to show, or null
 */
export async function finishSignIn() {
  const query = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.slice(1));
  const code = fragment.get("code");
  const error = fragment.get("error") ?? query.get("error");
  const touched = fragment.has("code") || fragment.has("error") || query.has("error");
  if (!touched) return null;
  for (const name of ["code", "error"]) fragment.delete(name);
  for (const name of ["error", "error_description"]) query.delete(name);
  const search = query.toString();
  const hash = fragment.toString();
  history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}${hash ? `#${hash}` : ""}`);
  if (error) return error;
  const verifier = pendingVerifier.get();
  pendingVerifier.clear();
  // A code without this tab's verifier was not started here: nothing to exchange.
  if (!code || !verifier || !crossOrigin) return "state_mismatch";
  /** @type {{ access_token: string }} */
  const { access_token } = await api("auth/token", { method: "POST", body: { code, code_verifier: verifier } });
  sessionToken.set(access_token);
  return null;
}

/** Whether asking the server for the session can succeed (cross-origin it needs a token). */
export function mayHaveSession() {
  return !crossOrigin || sessionToken.get() !== null;
}

/** Ends the session on the server (cookie or bearer), then forgets the token here. */
export async function signOut() {
  await api("auth/logout", { method: "POST" });
  sessionToken.clear();
}

/** Forgets a token the server no longer accepts. */
export function forgetSession() {
  sessionToken.clear();
}
