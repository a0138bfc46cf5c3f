// Entry for the `jobs` function: wiring only (logic in _shared/jobs/).
// Any other function can guard itself the same way:
//   export default { fetch: withApiKey({ scopes: ["jobs:write"] }, (req, ctx) => ...) };
import { createUserResolver } from "../_shared/auth/require-user.ts";
import { loadConfig } from "../_shared/config.ts";
import { openDb } from "../_shared/db.ts";
import { createJobsHandler } from "../_shared/jobs/handler.ts";
import { isSummaryRoute } from "../_shared/jobs/route.ts";
import { loadJobSettings } from "../_shared/jobs/settings.ts";
import { createJobSummaryHandler } from "../_shared/jobs/summary.ts";
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

const jobs = createJobsHandler({ db, withApiKey, settings: loadJobSettings(env) });
const summary = createJobSummaryHandler({
  db,
  resolveUser: createUserResolver({ config, db }),
  allowedOrigins: config.allowedRedirectOrigins,
});

export default { fetch: (req: Request) => (isSummaryRoute(req) ? summary(req) : jobs(req)) };
