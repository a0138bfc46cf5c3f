// @ts-check
// A real transaction-mode pooler for the tests and the bench: PgBouncer
// (Debian's 1.18) with `pool_mode = transaction`, as Supabase's Supavisor on
// port 6543 runs, on a free loopback port in front of a Postgres. Its
// configuration, auth file and log live in a temporary directory that
// `stop()` removes.
//
// The wildcard database (`*`) forwards every database name, so each test
// suite's own cloned database works through it. `auth_type = trust` matches
// the trust Postgres of the tests; the user it knows is listed in its auth
// file. PgBouncer refuses to run as root: as root it runs with `-u postgres`.
import { spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";

export const PGBOUNCER_INSTALL_HINT = "apt-get install pgbouncer";

/**
 * The PgBouncer binary (PGBOUNCER_BIN, Debian's path, or PATH), or null when it is not installed.
 * @returns {string | null}
 */
export function pgbouncerBinary() {
  for (const candidate of [process.env.PGBOUNCER_BIN, "/usr/sbin/pgbouncer"]) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  return spawnSync("pgbouncer", ["--version"], { stdio: "ignore" }).status === 0 ? "pgbouncer" : null;
}

/** @returns {Promise<number>} */
async function freePort() {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

function postgresIds() {
  const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) return null;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * @param {string} url
 * @param {import("node:child_process").ChildProcess} child
 * @param {() => string} log
 */
async function waitUntilServing(url, child, log) {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}:\n${log()}`);
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("select 1");
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => {});
    }
  }
  throw new Error(`pgbouncer did not serve within 10 s:\n${log()}`);
}

/**
 * A PgBouncer this module started.
 * @typedef {object} RunningPgBouncer
 * @property {number} port its loopback port
 * @property {number | undefined} pid
 * @property {(databaseUrl: string) => string} urlFor `databaseUrl` with its host and port swapped for the pooler's
 * @property {() => string} log everything it logged (for diagnosing a failure)
 * @property {() => Promise<void>} stop stops it and removes its files
 */

/**
 * Starts PgBouncer in front of `target` (a Postgres URL: its host, port and
 * user are used). `poolSize` is the server connections per database and user
 * (default 4), `maxClientConn` the client connections in all (200, like a
 * Micro project's pooler), `queryWaitTimeout` the seconds a client waits for a
 * server connection before PgBouncer refuses it (10).
 * @param {{ target: string, poolSize?: number, maxClientConn?: number, queryWaitTimeout?: number }} options
 * @returns {Promise<RunningPgBouncer>}
 */
export async function startPgBouncer({ target, poolSize = 4, maxClientConn = 200, queryWaitTimeout = 10 }) {
  const binary = pgbouncerBinary();
  if (!binary) throw new Error(`pgbouncer is not installed (${PGBOUNCER_INSTALL_HINT})`);
  const targetUrl = new URL(target);
  const user = decodeURIComponent(targetUrl.username || "postgres");
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "kg-pgbouncer-"));
  const config = path.join(dir, "pgbouncer.ini");
  const userlist = path.join(dir, "userlist.txt");
  const logfile = path.join(dir, "pgbouncer.log");
  writeFileSync(userlist, `"${user}" ""\n`);
  writeFileSync(
    config,
    [
      "[databases]",
      `* = host=${targetUrl.hostname.replace(/^\[|\]$/g, "")} port=${targetUrl.port || "5432"}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${userlist}`,
      "pool_mode = transaction",
      `default_pool_size = ${poolSize}`,
      "reserve_pool_size = 0",
      `max_client_conn = ${maxClientConn}`,
      `query_wait_timeout = ${queryWaitTimeout}`,
      "server_login_retry = 1",
      "ignore_startup_parameters = extra_float_digits",
      `logfile = ${logfile}`,
      "log_connections = 0",
      "log_disconnections = 0",
      "",
    ].join("\n"),
  );

  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const ids = postgresIds();
    if (!ids) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error("pgbouncer refuses to run as root and there is no postgres user to run it as");
    }
    for (const file of [dir, config, userlist]) chownSync(file, ids.uid, ids.gid);
  }
  const child = spawn(binary, [...(asRoot ? ["-u", "postgres"] : []), config], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const log = () => {
    try {
      return output + (existsSync(logfile) ? readFileSync(logfile, "utf8") : "");
    } catch {
      return output;
    }
  };
  const urlFor = (/** @type {string} */ databaseUrl) => {
    const url = new URL(databaseUrl);
    url.hostname = "127.0.0.1";
    url.port = String(port);
    return url.toString();
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitUntilServing(urlFor(target), child, log);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, pid: child.pid, urlFor, log, stop };
}
