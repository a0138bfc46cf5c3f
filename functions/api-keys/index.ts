// Entry for the `api-keys` function: wiring only (logic in _shared/api-keys/handler.ts).

import { createApiKeysHandler } from "../_shared/api-keys/handler.ts";
import { createUserResolver } from "../_shared/auth/require-user.ts";
import { loadConfig } from "../_shared/config.ts";
import { openDb } from "../_shared/db.ts";
import { loadKeySettings } from "../_shared/keys/key-settings.ts";

const env = Deno.env.toObject();
const config = loadConfig(env);
const settings = loadKeySettings(env);
const db = openDb(config);

export default {
  fetch: createApiKeysHandler({
    config,
    db,
    resolveUser: createUserResolver({ config, db }),
    maxPerMinute: settings.createPerMinute,
  }),
};
