/**
 * `verify-key`: server-side validation of an API key for backends that hold
 * their own data. GET (or POST) with the key in `x-api-key` or
 * `Authorization: Bearer`:
 *
 *   200 {"valid": true, "user_id", "key_id", "scopes", "expires_at"}
 *   401 {"valid": false, "error": {"code": "invalid_api_key", "message"}}
 *
 * with `WWW-Authenticate` and one message for every kind of bad key.
 */
import type { Config } from "../config.ts";
import { json, type Logger, logError, methodNotAllowed, toResponse } from "../http.ts";
import type { KeygateError } from "../errors.ts";
import { invalidApiKey } from "./invalid-api-key.ts";
import { withKeyCors } from "./key-cors.ts";
import { presentedKey } from "./presented-key.ts";
import type { KeyVerifier } from "./verify.ts";

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

export function createVerifyKeyHandler({ config, verifier, log = logError }: VerifyKeyHandlerDeps) {
  async function handle(req: Request): Promise<Response> {
    try {
      if (req.method !== "GET" && req.method !== "POST") throw methodNotAllowed(["GET", "POST", "OPTIONS"]);
      const presented = presentedKey(req);
      const key = await verifier.verify(presented);
      if (!key) return presented === null ? refusedMissing() : refusedPresented();
      return json(
        { valid: true, user_id: key.userId, key_id: key.keyId, scopes: key.scopes, expires_at: key.expiresAt },
        { headers: NO_STORE },
      );
    } catch (err) {
      return toResponse(err, log);
    }
  }
  return withKeyCors(config.allowBrowserKeys, "GET, POST, OPTIONS", handle);
}
