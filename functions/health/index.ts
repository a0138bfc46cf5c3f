// Entry for the `health` function: wiring only.
import { loadConfig } from "../_shared/config/config.ts";
import { openDb } from "../_shared/db/db.ts";
import { createHealthHandler } from "../_shared/handlers/health/handler.ts";

const config = loadConfig(Deno.env.toObject());
const db = openDb(config);

export default { fetch: createHealthHandler({ db }) };
