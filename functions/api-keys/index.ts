// Entry for the `api-keys` function: wiring only (logic in _shared/handlers/api-keys/handler.ts).

import { createUserResolver } from "../_shared/auth/require-user.ts";
import { loadConfig } from "../_shared/config/config.ts";
import { openDb } from "../_shared/db/db.ts";
import { createApiKeysHandler } from "../_shared/handlers/api-keys/handler.ts";

const config = loadConfig(Deno.env.toObject());
const db = openDb(config);

export default {
  fetch: createApiKeysHandler({
    config,
    db,
    resolveUser: createUserResolver({ config, db }),
    maxPerMinute: config.keys.createPerMinute,
  }),
};
