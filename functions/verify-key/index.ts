// Entry for the `verify-key` function: wiring only (logic in _shared/handlers/verify-key/handler.ts).
import { loadConfig } from "../_shared/config/config.ts";
import { openDb } from "../_shared/db/db.ts";
import { createVerifyKeyHandler } from "../_shared/handlers/verify-key/handler.ts";
import { createKeyVerifierFromConfig } from "../_shared/keys/verifier-from-config.ts";

const config = loadConfig(Deno.env.toObject());
const verifier = createKeyVerifierFromConfig(config, openDb(config));

export default { fetch: createVerifyKeyHandler({ config, verifier }) };
