/**
 * A Postgres cluster of the test's own, for settings the machine's shared
 * server must not get (such as a Micro project's `max_connections = 60`):
 * initdb into a temporary directory, served on a free loopback port with
 * trust auth, stopped and removed by `stop()`. Postgres refuses to run as
 * root: as root, initdb and the server run as the `postgres` user.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { freePort } from "./server.ts";

export const POSTGRES_INSTALL_HINT = "apt-get install postgresql-15";

/** The directory holding initdb and postgres, or null where they are not installed. */
export function postgresBinDir(): string | null {
  const fromPgConfig = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" });
  const candidates = [
    process.env.PG_BINDIR,
    fromPgConfig.status === 0 ? fromPgConfig.stdout.trim() : undefined,
    "/usr/lib/postgresql/15/bin",
  ];
  for (const dir of candidates) {
    if (dir && existsSync(path.join(dir, "initdb")) && existsSync(path.join(dir, "postgres"))) return dir;
  }
  return null;
}

export interface PostgresCluster {
  /** postgresql://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** As root, the `postgres` user's ids for spawn (Postgres refuses root); otherwise nothing. */
function postgresUser(): { uid: number; gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim());
  const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
  if (!uid) throw new Error("Postgres refuses to run as root and there is no postgres user to run it as");
  return { uid, gid };
}

export async function startPostgresCluster(settings: Record<string, string | number> = {}): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`initdb and postgres are not installed (${POSTGRES_INSTALL_HINT})`);
  const user = postgresUser();
  const dir = mkdtempSync(path.join(tmpdir(), "kg-cluster-"));
  const data = path.join(dir, "data");
  if ("uid" in user) chownSync(dir, user.uid, user.gid);
  const env = { PATH: process.env.PATH, LANG: "C.UTF-8" };
  const init = spawnSync(
    path.join(bin, "initdb"),
    ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"],
    {
      encoding: "utf8",
      cwd: dir,
      env,
      ...user,
    },
  );
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed:\n${init.stdout}${init.stderr}`);
  }

  const port = await freePort();
  const options = {
    listen_addresses: "127.0.0.1",
    port,
    unix_socket_directories: dir,
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    shared_buffers: "32MB",
    ...settings,
  };
  const args = ["-D", data, ...Object.entries(options).flatMap(([k, v]) => ["-c", `${k}=${v}`])];
  const child: ChildProcess = spawn(path.join(bin, "postgres"), args, {
    cwd: dir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    ...user,
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));

  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      // SIGINT is Postgres's fast shutdown: it ends every session and exits.
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  for (let attempt = 0; ; attempt++) {
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.end();
      break;
    } catch {
      await client.end().catch(() => {});
      if (child.exitCode !== null || attempt >= 150) {
        await stop();
        throw new Error(`the test cluster did not start:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, port, stop };
}
