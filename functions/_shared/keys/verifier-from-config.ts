import type { Config } from "../config.ts";
import type { Db } from "../db.ts";
import { createKeyVerifier, type KeyVerifier } from "./verify.ts";

/** The key verifier a function's configuration asks for: its prefix, cache lifetime and failure limit. */
export function createKeyVerifierFromConfig(config: Pick<Config, "apiKeyPrefix" | "keys">, db: Db): KeyVerifier {
  return createKeyVerifier({
    db,
    prefix: config.apiKeyPrefix,
    cacheTtlMs: config.keys.cacheTtlMs,
    failuresPerMinute: config.keys.failuresPerMinute,
    clientIpHeader: config.keys.clientIpHeader,
  });
}
