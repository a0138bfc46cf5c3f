/**
 * The `auth` edge function: OAuth/OpenID sign-in, dashboard sessions and the
 * signed-in user (docs/architecture.md). Wiring only; the logic lives in
 * functions/_shared/handlers/auth/handler.ts.
 */

import { loadConfig } from "../_shared/config/config.ts";
import { openDb } from "../_shared/db/db.ts";
import { createAuthHandler } from "../_shared/handlers/auth/handler.ts";

const config = loadConfig(Deno.env.toObject());
const db = openDb(config);

export default { fetch: createAuthHandler({ config, db, roles: config.roles }) };
