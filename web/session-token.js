// @ts-check
/**
 * What a cross-site dashboard keeps in this tab's sessionStorage: the bearer
 * session token, and the verifier of a sign-in under way. sessionStorage is
 * per tab and per origin and ends with the tab; nothing goes to
 * localStorage or a cookie. (A same-site dashboard keeps neither: its session
 * is the server's HttpOnly cookie.)
 */

/** @param {string} name */
function slot(name) {
  return {
    /** @returns {string | null} */
    get() {
      try {
        return sessionStorage.getItem(name);
      } catch {
        return null; // storage disabled: the page works signed out
      }
    },
    /** @param {string} value */
    set(value) {
      sessionStorage.setItem(name, value);
    },
    clear() {
      try {
        sessionStorage.removeItem(name);
      } catch {
        // nothing stored
      }
    },
  };
}

/** The Keygate session token sent as `Authorization: Bearer`. */
export const sessionToken = slot("keygate.session");

/** The verifier of the sign-in under way; used once, when the code comes back. */
export const pendingVerifier = slot("keygate.verifier");
