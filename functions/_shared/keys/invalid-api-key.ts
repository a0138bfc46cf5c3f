/**
 * The one refusal for a request without a live key. Missing, malformed,
 * unknown, revoked, expired and inactive-owner keys all read the same, so a
 * caller learns nothing about which keys exist. Built once: the refusal path
 * is as cheap as it can be.
 */
import { KeygateError } from "../core/errors.ts";

export const INVALID_API_KEY_MESSAGE = "A valid API key is required.";

const missing = new KeygateError("invalid_api_key", INVALID_API_KEY_MESSAGE, {
  headers: { "www-authenticate": 'Bearer realm="keygate"' },
});
const presented = new KeygateError("invalid_api_key", INVALID_API_KEY_MESSAGE, {
  headers: { "www-authenticate": 'Bearer realm="keygate", error="invalid_token"' },
});

/** 401 `invalid_api_key`; RFC 6750 adds `error="invalid_token"` when a key was sent. */
export function invalidApiKey(keyPresented: boolean): KeygateError {
  return keyPresented ? presented : missing;
}
