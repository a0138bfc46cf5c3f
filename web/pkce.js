// @ts-check
/**
 * The verifier a cross-site sign-in starts with and its S256 challenge
 * (RFC 7636): the page keeps the verifier, the server only ever sees the
 * challenge until the code is exchanged. Web Crypto only, no DOM, so it is
 * unit-tested on Node (tests/web/pkce.test.ts).
 */

/** @param {Uint8Array} bytes */
function base64url(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A fresh verifier: 32 random bytes, base64url (43 characters). */
export function newVerifier() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * base64url(SHA-256(verifier)), the `code_challenge` of method S256.
 * @param {string} verifier
 */
export async function challengeFor(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}
