/**
 * What a cross-site sign-in's values look like before anything reads them:
 * a sign-in code and a PKCE S256 challenge are both 43 base64url characters
 * (32 random bytes; a SHA-256).
 */
export const SIGN_IN_CODE_SHAPE = /^[A-Za-z0-9_-]{43}$/;
export const CODE_CHALLENGE_SHAPE = /^[A-Za-z0-9_-]{43}$/;
