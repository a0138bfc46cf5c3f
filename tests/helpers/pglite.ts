/**
 * An in-process PGlite served over the Postgres wire protocol
 * (pglite-socket) on a random loopback port, as `npm start` does for the
 * embedded database, so the same `pg` clients and the same migration path
 * (`migrate(url)`: shim + `supabase db push`) work against it.
 */
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export interface RunningPglite {
  /** A postgresql:// URL for the socket server. */
  url: string;
  stop(): Promise<void>;
}

export async function startPglite({ maxConnections = 8 }: { maxConnections?: number } = {}): Promise<RunningPglite> {
  const db = await PGlite.create(); // in memory
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections });
  await server.start();
  // getServerConn() reports the port the OS picked once listening.
  const url = `postgresql://postgres@${server.getServerConn()}/postgres`;
  return {
    url,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
