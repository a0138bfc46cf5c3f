// Entry for the `jobs` function: wiring only (routes in _shared/handlers/jobs/).
// Any other function can guard itself the same way:
//   export default { fetch: withApiKey({ scopes: ["jobs:write"] }, (req, ctx) => ...) };
import { createUserResolver } from "../_shared/auth/require-user.ts";
import { loadConfig } from "../_shared/config/config.ts";
import { openDb } from "../_shared/db/db.ts";
import { createJobsHandler } from "../_shared/handlers/jobs/handler.ts";
import { createKeyVerifierFromConfig } from "../_shared/keys/verifier-from-config.ts";
import { createWithApiKey } from "../_shared/keys/with-api-key.ts";

const config = loadConfig(Deno.env.toObject());
const db = openDb(config);

const jobs = createJobsHandler({
  db,
  withApiKey: createWithApiKey({ config, verifier: createKeyVerifierFromConfig(config, db) }),
  resolveUser: createUserResolver({ config, db }),
  allowedOrigins: config.allowedRedirectOrigins,
  settings: config.jobs,
});

export default { fetch: jobs };
