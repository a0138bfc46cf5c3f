// Entry for the `admin` function: wiring only (logic in _shared/handlers/admin/handler.ts).

import { createUserResolver } from "../_shared/auth/require-user.ts";
import { loadConfig } from "../_shared/config/config.ts";
import { openDb } from "../_shared/db/db.ts";
import { createAdminHandler } from "../_shared/handlers/admin/handler.ts";

const config = loadConfig(Deno.env.toObject());
const db = openDb(config);

export default {
  fetch: createAdminHandler({ config, db, resolveUser: createUserResolver({ config, db }) }),
};
