#!/usr/bin/env node
// @ts-check
// `npm run db:migrate`: brings the database at DATABASE_URL up to date.
//
// On plain Postgres or PGlite it first applies sql/shim.sql (the roles, `auth`
// schema and default privileges a Supabase project already has); then it runs
// the real Supabase CLI, `supabase db push`, which applies
// supabase/migrations and records them in supabase_migrations.schema_migrations.
// Running it twice changes nothing.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { isLoopbackHost } from "../functions/_shared/core/loopback.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const supabaseBin = path.join(root, "node_modules", ".bin", "supabase");

/**
 * Supabase projects have the `supabase_admin` role; plain Postgres does not.
 * @param {pg.ClientBase} client
 * @returns {Promise<boolean>}
 */
export async function isSupabaseProject(client) {
  const { rows } = await client.query("select exists (select 1 from pg_roles where rolname = 'supabase_admin') as yes");
  return rows[0].yes;
}

/**
 * The CLI wants TLS off spelled out for local databases without it.
 * @param {string} databaseUrl
 */
export function cliUrl(databaseUrl) {
  const url = new URL(databaseUrl);
  if (isLoopbackHost(url.hostname) && !url.searchParams.has("sslmode")) url.searchParams.set("sslmode", "disable");
  return url.toString();
}

/**
 * The CLI's arguments and environment for `db push` to `databaseUrl`. The
 * password never goes into the arguments, which `ps` shows to every local
 * user: it travels in PGPASSWORD, which the CLI's driver (pgx) reads when
 * the URL has none.
 * @param {string} databaseUrl
 * @param {NodeJS.ProcessEnv} [env]
 */
export function cliInvocation(databaseUrl, env = process.env) {
  const url = new URL(cliUrl(databaseUrl));
  const password = url.password ? decodeURIComponent(url.password) : url.searchParams.get("password");
  url.password = "";
  url.searchParams.delete("password");
  return {
    args: ["db", "push", `--remote=${url.toString()}`, "--yes"],
    // Without any password the CLI fails on an empty one; trust-auth servers ignore it.
    env: { ...env, DO_NOT_TRACK: "1", PGPASSWORD: password ?? env.PGPASSWORD ?? "postgres" },
  };
}

/**
 * Runs the CLI; resolves to what it printed, rejects with it when it fails.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ quiet: boolean, env: NodeJS.ProcessEnv, spawnImpl: typeof spawn }} options
 * @returns {Promise<string>}
 */
function run(cmd, args, { quiet, env, spawnImpl }) {
  return new Promise((resolve, reject) => {
    const child = spawnImpl(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
      if (!quiet) process.stdout.write(d);
    });
    child.stderr.on("data", (d) => {
      output += d;
      if (!quiet) process.stderr.write(d);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`supabase db push failed (exit ${code}):\n${output.trim()}`));
    });
  });
}

/**
 * Applies the shim (where needed) and the migrations in `<workdir>/supabase`
 * (default: this repository). Resolves to what the CLI printed.
 * @param {string} databaseUrl
 * @param {{ quiet?: boolean, workdir?: string, spawnImpl?: typeof spawn }} [options]
 * @returns {Promise<string>}
 */
export async function migrate(databaseUrl, { quiet = false, workdir = root, spawnImpl = spawn } = {}) {
  const log = quiet ? () => {} : (/** @type {string} */ m) => console.log(m);
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    if (await isSupabaseProject(client)) {
      log("Supabase project detected: skipping the local platform shim.");
    } else {
      await client.query(await readFile(path.join(root, "sql", "shim.sql"), "utf8"));
      log("Applied the local Supabase platform shim (sql/shim.sql).");
    }
  } finally {
    await client.end();
  }
  // Each migration runs in its own transaction: a failing one is rolled back
  // whole and reported, and the ones before it stay recorded.
  const { args, env } = cliInvocation(databaseUrl);
  return await run(supabaseBin, [...args, "--workdir", workdir], { quiet, env, spawnImpl });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL ?? process.env.SUPABASE_DB_URL;
  if (!url) {
    console.error("Set DATABASE_URL to the Postgres to migrate, e.g. postgresql://postgres@127.0.0.1:5432/postgres");
    process.exit(2);
  }
  migrate(url).catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}
