// Entry for the `health` function: wiring only.
import { loadConfig } from "../_shared/config.ts";
import { createDb } from "../_shared/db.ts";
import { createHealthHandler } from "../_shared/health-handler.ts";

const config = loadConfig(Deno.env.toObject());
if (!config.databaseUrl) throw new Error("Set DATABASE_URL (or SUPABASE_DB_URL).");
const db = createDb(config.databaseUrl, { max: config.dbPoolMax });

export default { fetch: createHealthHandler({ db }) };
