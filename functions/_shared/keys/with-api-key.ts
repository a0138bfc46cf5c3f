/**
 * `withApiKey({ scopes }, handler)`: the key check of `verify-key` as a
 * wrapper for any edge function, in the spirit of `withSupabase` from
 * `@supabase/server`. The handler runs only for a live key holding every
 * scope asked for, and gets the key's principal (`ctx.owner`: a user or an
 * organization):
 *
 *   // functions/my-function/index.ts
 *   import { createWithApiKey, loadConfig, openDb } from "../_shared/public/mod.ts";
 *
 *   const config = loadConfig(Deno.env.toObject());
 *   const db = openDb(config);
 *   const withApiKey = createWithApiKey({ config, db });
 *
 *   export default {
 *     fetch: withApiKey({ scopes: ["jobs:write"] }, (req, ctx) =>
 *       Response.json({ hello: ctx.owner.id })),
 *   };
 *
 * Refusals: 401 `invalid_api_key` with `WWW-Authenticate` (one message for a
 * missing, malformed, unknown, revoked, expired or inactive-owner key), 403
 * `insufficient_scope`, 429 `rate_limited` with `Retry-After` for a client past
 * its limit of failed verifications (verify.ts). Errors the handler throws go
 * through `toResponse`.
 * CORS: none unless ALLOW_BROWSER_KEYS=true (see key-cors.ts).
 *
 * A function with several routes puts `withApiKey.authenticate` in each key
 * route of its router and `withApiKey.cors` as the router's policy
 * (handlers/jobs/handler.ts).
 */
import type { Config } from "../config/config.ts";
import { type Logger, logError } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import type { CorsPolicy } from "../http/cors.ts";
import { handleErrors } from "../http/response.ts";
import { invalidApiKey } from "./invalid-api-key.ts";
import { keyCors, withKeyCors } from "./key-cors.ts";
import { presentedKey } from "./presented-key.ts";
import { assertScopes, isScope } from "./scopes.ts";
import { createKeyVerifierFromConfig } from "./verifier-from-config.ts";
import type { KeyVerifier, VerifiedKey } from "./verify.ts";

/**
 * The key's principal: `owner` is who acts (a user, or an organization for
 * its keys); `userId` is set for personal keys only, `orgId` for
 * organization keys only, `createdBy` names who made the key.
 */
export type ApiKeyContext = Omit<VerifiedKey, "scopes"> & { scopes: readonly string[] };

export type ApiKeyHandler = (req: Request, ctx: ApiKeyContext) => Response | Promise<Response>;

export interface WithApiKeyOptions {
  /** Every one of these must be granted to the key. */
  scopes?: readonly string[];
  /** Methods announced to browsers when ALLOW_BROWSER_KEYS=true. */
  methods?: string;
}

export interface WithApiKey {
  (options: WithApiKeyOptions, handler: ApiKeyHandler): (req: Request) => Response | Promise<Response>;
  /** The key's owner, or the wrapper's refusals thrown as KeygateErrors: for one route of a router. */
  authenticate(req: Request, scopes?: readonly string[]): Promise<ApiKeyContext>;
  /** The CORS policy of key routes, for a router. */
  readonly cors: CorsPolicy;
}

export interface WithApiKeyDeps {
  config: Pick<Config, "apiKeyPrefix" | "allowBrowserKeys" | "keys" | "clientAddress">;
  /** Give either a verifier or the database to build one from (with the configuration's cache, failure limit and client address). */
  verifier?: KeyVerifier;
  db?: Db;
  log?: Logger;
}

export function createWithApiKey({ config, verifier, db, log = logError }: WithApiKeyDeps): WithApiKey {
  const found = verifier ?? (db ? createKeyVerifierFromConfig(config, db, log) : undefined);
  if (!found) throw new Error("createWithApiKey needs a verifier or a db");
  const keys: KeyVerifier = found;

  async function authenticate(req: Request, scopes: readonly string[] = []): Promise<ApiKeyContext> {
    const presented = presentedKey(req);
    const key = await keys.verify(presented, req);
    if (!key) throw invalidApiKey(presented !== null);
    assertScopes(key.scopes, scopes);
    return key;
  }

  const wrap = (options: WithApiKeyOptions, handler: ApiKeyHandler) => {
    const required = [...(options.scopes ?? [])];
    // A typo here would lock every key out of the route: fail at start-up instead.
    const unknown = required.filter((scope) => !isScope(scope));
    if (unknown.length > 0)
      throw new Error(`withApiKey: unknown scope ${unknown.join(", ")} (add it to keys/scopes.ts)`);
    const guarded = handleErrors(async (req) => handler(req, await authenticate(req, required)), log);
    return withKeyCors(config.allowBrowserKeys, options.methods ?? "GET, POST, PUT, PATCH, DELETE, OPTIONS", guarded);
  };
  return Object.assign(wrap, { authenticate, cors: keyCors(config.allowBrowserKeys) });
}
