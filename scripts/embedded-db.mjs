// @ts-check
// The embedded database of `npm start`: PGlite (Postgres compiled to WASM)
// served over the Postgres wire protocol on loopback by pglite-socket, so the
// functions reach it through the same driver and URL as any Postgres.
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/**
 * Starts PGlite (kept in `dataDir`, or in memory without one) behind a socket
 * server on a free loopback port. Returns its postgresql:// URL.
 *
 * PGlite has a single session, onto which pglite-socket multiplexes every
 * connection. A new connection must still start clean, as it would on
 * Postgres: otherwise the named prepared statements of a connection that went
 * away (a pool closing an idle client, or discarding one after an error) are
 * still there, and the next connection's prepare of the same name fails
 * (42P05 "prepared statement already exists"). So each new connection first
 * discards the session state. Keep the server's pool at one connection
 * (start.mjs does): connections that overlap share that state.
 *
 * @param {{ dataDir?: string, host?: string, maxConnections?: number }} [options]
 * @returns {Promise<{ url: string, stop(): Promise<void> }>}
 */
export async function startEmbeddedDatabase({ dataDir, host = "127.0.0.1", maxConnections = 16 } = {}) {
  const db = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  const server = new PGLiteSocketServer({ db, host, port: 0, maxConnections });
  server.addEventListener("connection", () => {
    db.exec("DISCARD ALL").catch(() => {
      // in a transaction of an overlapping connection: nothing to discard safely
    });
  });
  await server.start();
  // After start(), "host:port" with the port the system picked.
  const port = Number(server.getServerConn().split(":").pop());
  return {
    url: `postgresql://postgres@${host}:${port}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
