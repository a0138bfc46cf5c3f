/**
 * `verify-key`: server-side validation of an API key for backends that hold
 * their own data. GET (or POST) with the key in `x-api-key` or
 * `Authorization: Bearer`:
 *
 *   200 {"valid": true, "key_id", "owner": {"type", "id"}, "user_id" | "org_id",
 *        "created_by", "scopes", "expires_at"}
 *
 * (`user_id` for a personal key, `org_id` for an organization's key; the
 * owner acts, `created_by` only says who made the key)
 *   401 {"valid": false, "error": {"code": "invalid_api_key", "message"}}
 *
 * with `WWW-Authenticate` and one message for every kind of bad key. A
 * client past its limit of failed verifications (see verify.ts) gets
 * 429 {"valid": false, "error": {"code": "rate_limited", ...}} with
 * `Retry-After`.
 */
import type { Config } from "../../config/config.ts";
import { KeygateError } from "../../core/errors.ts";
import { type Logger, logError } from "../../core/log.ts";
import { methodNotAllowed, toResponse } from "../../http/response.ts";
import { invalidApiKey } from "../../keys/invalid-api-key.ts";
import { withKeyCors } from "../../keys/key-cors.ts";
import { presentedKey } from "../../keys/presented-key.ts";
import type { KeyVerifier, VerifiedKey } from "../../keys/verify.ts";

export interface VerifyKeyHandlerDeps {
  config: Pick<Config, "allowBrowserKeys">;
  verifier: KeyVerifier;
  log?: Logger;
}

const NO_STORE = { "cache-control": "no-store" };

/** The refusal in this route's own shape (`valid: false` beside the usual error), built once. */
function refusal(err: KeygateError): () => Response {
  const body = JSON.stringify({ valid: false, error: { code: err.code, message: err.message } });
  const headers = { "content-type": "application/json; charset=utf-8", ...err.headers, ...NO_STORE };
  return () => new Response(body, { status: err.status, headers });
}
const refusedMissing = refusal(invalidApiKey(false));
const refusedPresented = refusal(invalidApiKey(true));

const OK_HEADERS = { "content-type": "application/json; charset=utf-8", ...NO_STORE };

/**
 * The 200 body of each verified key, serialized once. The verifier hands out
 * one frozen object per cached key, so a cache hit costs a lookup here, not a
 * JSON.stringify; entries go with the verifier's cache entries.
 */
const okBodies = new WeakMap<VerifiedKey, string>();

function accepted(key: VerifiedKey): Response {
  let body = okBodies.get(key);
  if (body === undefined) {
    body = JSON.stringify({
      valid: true,
      key_id: key.keyId,
      owner: key.owner,
      ...(key.orgId === null ? { user_id: key.userId } : { org_id: key.orgId }),
      created_by: key.createdBy,
      scopes: key.scopes,
      expires_at: key.expiresAt,
    });
    okBodies.set(key, body);
  }
  return new Response(body, { headers: OK_HEADERS });
}

function answer(presented: string | null, key: VerifiedKey | null): Response {
  if (key) return accepted(key);
  return presented === null ? refusedMissing() : refusedPresented();
}

export function createVerifyKeyHandler({ config, verifier, log = logError }: VerifyKeyHandlerDeps) {
  function failed(err: unknown): Response {
    // Over the failure limit (at once, or after waiting for the client's reads under way): 429 with
    // Retry-After, in this route's own shape.
    if (err instanceof KeygateError && err.code === "rate_limited") return refusal(err)();
    return toResponse(err, log);
  }

  // Not async: a malformed key or a cache hit is answered without a promise.
  function handle(req: Request): Response | Promise<Response> {
    try {
      if (req.method !== "GET" && req.method !== "POST") throw methodNotAllowed(["GET", "POST", "OPTIONS"]);
      const presented = presentedKey(req);
      const verification = verifier.verify(presented, req);
      if (!(verification instanceof Promise)) return answer(presented, verification);
      // The promise's own catch: a `return` from this try does not wait for it.
      return verification.then((key) => answer(presented, key)).catch(failed);
    } catch (err) {
      return failed(err);
    }
  }
  return withKeyCors(config.allowBrowserKeys, "GET, POST, OPTIONS", handle);
}
