// Entry for the `jobs` function: wiring only (logic in _shared/keys/jobs-handler.ts).
// Any other function can guard itself the same way:
//   export default { fetch: withApiKey({ scopes: ["jobs:write"] }, (req, ctx) => ...) };
import { loadConfig } from "../_shared/config.ts";
import { openDb } from "../_shared/db.ts";
import { createJobsHandler } from "../_shared/keys/jobs-handler.ts";
import { loadKeySettings } from "../_shared/keys/key-settings.ts";
import { createKeyVerifier } from "../_shared/keys/verify.ts";
import { createWithApiKey } from "../_shared/keys/with-api-key.ts";

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
const withApiKey = createWithApiKey({ config, verifier });

export default { fetch: createJobsHandler({ db, withApiKey }) };
