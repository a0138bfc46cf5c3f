/**
 * What a function of your own imports from Keygate: the API-key guard and
 * the verified principal it hands your handler, with the configuration and
 * database handle it needs. This module is the whole public surface; the
 * folders below it are Keygate's own and may change.
 *
 *   import { createWithApiKey, loadConfig, openDb } from "../_shared/public/mod.ts";
 *
 *   const config = loadConfig(Deno.env.toObject());
 *   const withApiKey = createWithApiKey({ config, db: openDb(config) });
 *   export default { fetch: withApiKey({ scopes: ["jobs:read"] }, (req, key) => Response.json({ you: key.owner })) };
 */
export { type Config, loadConfig } from "../config/config.ts";
export { KeygateError } from "../core/errors.ts";
export { type Db, openDb } from "../db/db.ts";
export { SCOPES, type Scope } from "../keys/scopes.ts";
export type { KeyOwner, KeyVerifier, VerifiedKey } from "../keys/verify.ts";
export {
  type ApiKeyContext,
  type ApiKeyHandler,
  createWithApiKey,
  type WithApiKey,
  type WithApiKeyOptions,
} from "../keys/with-api-key.ts";
