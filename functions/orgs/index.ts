// Entry for the `orgs` function: wiring only (logic in _shared/handlers/orgs/handler.ts).

import { createUserResolver } from "../_shared/auth/require-user.ts";
import { loadConfig } from "../_shared/config/config.ts";
import { openDb } from "../_shared/db/db.ts";
import { createOrgsHandler } from "../_shared/handlers/orgs/handler.ts";

const config = loadConfig(Deno.env.toObject());
const db = openDb(config);

export default {
  fetch: createOrgsHandler({ config, db, resolveUser: createUserResolver({ config, db }) }),
};
