/**
 * `npm run db:migrate` keeps the database password out of the Supabase CLI's
 * arguments (which `ps` shows to every local user): the CLI gets it through
 * PGPASSWORD. Proved against a PgBouncer that demands the password (plain
 * auth) in front of the local Postgres, so the migration only succeeds when
 * the CLI really received it. Where pgbouncer is missing the suite is skipped
 * with one visible line, unless KEYGATE_REQUIRE_ALL=1.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, chown, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliInvocation, migrate } from "../../scripts/migrate.mjs";
import { adminUrl } from "../helpers/postgres.ts";
import { freePort, projectRoot } from "../helpers/server.ts";

const required = process.env.KEYGATE_REQUIRE_ALL === "1";
const hasPgBouncer = spawnSync("pgbouncer", ["--version"], { stdio: "ignore" }).status === 0;
if (!hasPgBouncer && !required)
  console.log("skipping the db:migrate password test: pgbouncer is missing (apt-get install pgbouncer)");

const PASSWORD = `pw-${randomBytes(12).toString("hex")}`;

describe("cliInvocation", () => {
  it("moves the password (and a password query parameter) from the URL into PGPASSWORD", () => {
    const { args, env } = cliInvocation(
      "postgresql://app:p%40ss%2Fword@db.example.com:6543/postgres?password=x&sslmode=require",
    );
    expect(args.join(" ")).not.toMatch(/p%40ss|p@ss|password/);
    expect(args).toContain("--remote=postgresql://app@db.example.com:6543/postgres?sslmode=require");
    expect(env.PGPASSWORD).toBe("p@ss/word");
  });

  it("keeps a PGPASSWORD the caller set when the URL has none", () => {
    expect(cliInvocation("postgresql://app@db.example.com/postgres", { PGPASSWORD: "from-env" }).env.PGPASSWORD).toBe(
      "from-env",
    );
  });
});

describe.skipIf(!hasPgBouncer && !required)("npm run db:migrate behind a password", () => {
  let dir: string;
  let bouncer: ChildProcess | undefined;
  let port: number;
  const dbName = `kg_migrate_pw_${randomBytes(4).toString("hex")}`;
  const spawned: Array<{ args: string[]; env: NodeJS.ProcessEnv }> = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "keygate-pgbouncer-"));
    port = await freePort();
    const admin = new URL(adminUrl());
    await writeFile(path.join(dir, "users.txt"), `"postgres" "${PASSWORD}"\n`);
    await writeFile(
      path.join(dir, "pgbouncer.ini"),
      [
        "[databases]",
        `* = host=${admin.hostname} port=${admin.port || 5432}`,
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        `listen_port = ${port}`,
        "auth_type = plain",
        `auth_file = ${path.join(dir, "users.txt")}`,
        "pool_mode = session",
        "unix_socket_dir =",
        // PgBouncer refuses to run as root; it then needs a user to become.
        ...(userInfo().uid === 0 ? ["user = postgres"] : []),
      ]
        .join("\n")
        .concat("\n"),
    );
    if (userInfo().uid === 0) {
      const { uid, gid } = userInfoOf("postgres");
      await chown(dir, uid, gid);
      await chmod(dir, 0o700);
      for (const f of ["users.txt", "pgbouncer.ini"]) await chown(path.join(dir, f), uid, gid);
    }
    const client = new pg.Client({ connectionString: adminUrl() });
    await client.connect();
    await client.query(`create database ${dbName}`);
    await client.end();

    bouncer = spawn("pgbouncer", [path.join(dir, "pgbouncer.ini")], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    bouncer.stderr!.on("data", (d) => (log += d));
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (bouncer.exitCode !== null || Date.now() > deadline) throw new Error(`pgbouncer did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    if (bouncer && bouncer.exitCode === null) {
      const exited = new Promise((r) => bouncer!.once("exit", r));
      bouncer.kill("SIGTERM");
      await exited;
    }
    const client = new pg.Client({ connectionString: adminUrl() });
    await client.connect();
    await client.query(`drop database if exists ${dbName} with (force)`);
    await client.end();
    await rm(dir, { recursive: true, force: true });
  });

  it("migrates with the password in PGPASSWORD and never in the CLI's arguments", async () => {
    const url = `postgresql://postgres:${PASSWORD}@127.0.0.1:${port}/${dbName}`;
    const recordingSpawn = ((cmd: string, args: string[], options: { env: NodeJS.ProcessEnv }) => {
      spawned.push({ args: [cmd, ...args], env: options.env });
      return spawn(cmd, args, options);
    }) as typeof spawn;
    await migrate(url, { quiet: true, spawnImpl: recordingSpawn });

    expect(spawned).toHaveLength(1);
    expect(spawned[0].args.join(" ")).not.toContain(PASSWORD);
    expect(spawned[0].env.PGPASSWORD).toBe(PASSWORD);

    const files = (await readdir(path.join(projectRoot, "supabase", "migrations"))).filter((f) => f.endsWith(".sql"));
    const check = new pg.Client({ connectionString: url });
    await check.connect();
    try {
      const { rows } = await check.query("select count(*)::int as n from supabase_migrations.schema_migrations");
      expect(rows[0].n).toBe(files.length);
    } finally {
      await check.end();
    }
  });

  it("fails without the password: the proxy really demands one", async () => {
    const url = `postgresql://postgres:wrong-${PASSWORD.slice(3)}@127.0.0.1:${port}/${dbName}`;
    await expect(migrate(url, { quiet: true })).rejects.toThrow(/password/);
  });
});

function userInfoOf(name: string): { uid: number; gid: number } {
  const out = spawnSync("id", ["-u", name], { encoding: "utf8" }).stdout.trim();
  const gid = spawnSync("id", ["-g", name], { encoding: "utf8" }).stdout.trim();
  return { uid: Number(out), gid: Number(gid) };
}

async function accepts(p: number): Promise<boolean> {
  const { connect } = await import("node:net");
  return await new Promise((resolve) => {
    const socket = connect(p, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
