// Entry for the `verify-key` function: wiring only (logic in _shared/verify-key/handler.ts).
import { loadConfig } from "../_shared/config.ts";
import { openDb } from "../_shared/db.ts";
import { loadKeySettings } from "../_shared/keys/key-settings.ts";
import { createKeyVerifier } from "../_shared/keys/verify.ts";
import { createVerifyKeyHandler } from "../_shared/verify-key/handler.ts";

const env = Deno.env.toObject();
const config = loadConfig(env);
const settings = loadKeySettings(env);
const db = openDb(config);
const verifier = createKeyVerifier({
  db,
  prefix: config.apiKeyPrefix,
  cacheTtlMs: settings.cacheTtlMs,
  failuresPerMinute: settings.failuresPerMinute,
  clientIpHeader: settings.clientIpHeader,
});

export default { fetch: createVerifyKeyHandler({ config, verifier }) };
