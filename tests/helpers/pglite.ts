/**
 * An in-memory PGlite served over the Postgres wire protocol, exactly as
 * `npm start` serves the embedded database (scripts/embedded-db.mjs), so the
 * same `pg` clients and the same migration path (`migrate(url)`: shim +
 * `supabase db push`) work against it.
 */
import { startEmbeddedDatabase } from "../../scripts/embedded-db.mjs";

export interface RunningPglite {
  /** A postgresql:// URL for the socket server. */
  url: string;
  stop(): Promise<void>;
}

export async function startPglite({ maxConnections = 8 }: { maxConnections?: number } = {}): Promise<RunningPglite> {
  return await startEmbeddedDatabase({ maxConnections });
}
