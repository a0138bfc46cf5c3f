import type { Config } from "../config/config.ts";
import type { Logger } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import { createKeyVerifier, type KeyVerifier } from "./verify.ts";

/** The key verifier a function's configuration asks for: its prefix, cache lifetime, failure limit and who the client is. */
export function createKeyVerifierFromConfig(
  config: Pick<Config, "apiKeyPrefix" | "keys" | "clientAddress">,
  db: Db,
  log?: Logger,
): KeyVerifier {
  return createKeyVerifier({
    db,
    prefix: config.apiKeyPrefix,
    cacheTtlMs: config.keys.cacheTtlMs,
    failuresPerMinute: config.keys.failuresPerMinute,
    clientAddress: config.clientAddress,
    ...(log ? { log } : {}),
  });
}
