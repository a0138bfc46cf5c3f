#!/usr/bin/env node
// @ts-check
// How many connections should an isolate hold? `node scripts/bench/pool-sizes.mjs`
// measures verify-key alone with its cache off (every check one query), as
// Supabase runs it, through a transaction-mode PgBouncer, for several
// DB_POOL_MAX values in interleaved rounds, and prints the median req/s and
// p99 of each. Loopback only; a throwaway database on the local Postgres
// (TEST_DATABASE_URL), dropped at the end. Options (environment):
// POOL_SIZES (1,2,4,8), BENCH_CONNECTIONS (32), BENCH_SECONDS (5),
// BENCH_ROUNDS (3), BENCH_POOLER_SERVER_POOL (8).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { denoRunArgs } from "../deno-run.mjs";
import { migrate } from "../migrate.mjs";
import { startPgBouncer } from "../pgbouncer.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const deno = path.join(root, "node_modules", ".bin", "deno");
const SIZES = (process.env.POOL_SIZES ?? "1,2,4,8").split(",").map(Number);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SERVER_POOL = Number(process.env.BENCH_POOLER_SERVER_POOL ?? 8);
const adminUrl = process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const log = (/** @type {string} */ m) => process.stderr.write(`${m}\n`);

/** @returns {Promise<number>} */
async function freePort() {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/**
 * Runs a command; resolves to its trimmed stdout, rejects when it fails.
 * @param {string} command
 * @param {string[]} args
 * @param {Record<string, string>} [env]
 * @returns {Promise<string>}
 */
async function run(command, args, env = {}) {
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`${command} exited with ${code}`)),
    );
  });
}

/**
 * @param {string} databaseUrl
 * @param {number} poolMax
 */
async function startFunction(databaseUrl, poolMax) {
  const port = await freePort();
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: "1",
    PORT: String(port),
    FUNCTION: "verify-key",
    DATABASE_URL: databaseUrl,
    API_KEY_CACHE_TTL_MS: "0",
    DB_POOL_MAX: String(poolMax),
  };
  const child = spawn(deno, denoRunArgs("scripts/bench/serve-function.ts"), {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  await /** @type {Promise<void>} */ (
    new Promise((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
        if (out.includes("listening")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`verify-key exited with ${code}`)));
    })
  );
  return {
    url: `http://127.0.0.1:${port}/verify-key`,
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * One load run in its own process (load.mjs).
 * @param {string} url
 * @param {Record<string, string>[]} headers (one set per connection)
 * @param {number} seconds
 * @returns {Promise<import("./load.mjs").LoadResult>}
 */
const load = async (url, headers, seconds) =>
  JSON.parse(
    await run(process.execPath, [
      path.join(root, "scripts", "bench", "load.mjs"),
      JSON.stringify({ url, headers, connections: CONNECTIONS, seconds }),
    ]),
  );
const median = (/** @type {number[]} */ values) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];

const name = `kg_pools_${process.pid}_${Date.now().toString(36)}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
/** @type {Awaited<ReturnType<typeof startFunction>>[]} */
const started = [];
/** @type {Awaited<ReturnType<typeof startPgBouncer>> | undefined} */
let bouncer;
try {
  await admin.query(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString(), { quiet: true });
  // A key per load connection: the verifier lets concurrent misses of one key share a read,
  // so one key for all would not measure a query per check.
  const keys = (
    await run(deno, [
      "eval",
      "--node-modules-dir=manual",
      "--config",
      "functions/deno.json",
      `import { generateApiKey } from "./functions/_shared/keys/format.ts"; for (let i = 0; i < ${CONNECTIONS}; i++) console.log(generateApiKey("kg"));`,
    ])
  ).split("\n");
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  const { rows } = await db.query("insert into public.users (email) values ('pools@example.test') returning id");
  // Straight to the table: the API caps a user at 25 live keys.
  for (const key of keys) {
    await db.query("insert into public.api_keys (user_id, name, start, key_hash) values ($1, 'bench', $2, $3)", [
      rows[0].id,
      key.slice(0, 10),
      createHash("sha256").update(key).digest(),
    ]);
  }
  await db.end();

  bouncer = await startPgBouncer({ target: url.toString(), poolSize: SERVER_POOL });
  const pooled = bouncer.urlFor(url.toString());
  /** @type {{ size: number, server: Awaited<ReturnType<typeof startFunction>>, runs: import("./load.mjs").LoadResult[] }[]} */
  const servers = [];
  for (const size of SIZES) {
    const server = await startFunction(pooled, size);
    started.push(server);
    servers.push({ size, server, runs: [] });
  }
  const headers = keys.map((key) => ({ "x-api-key": key }));
  for (const s of servers) await load(s.server.url, headers, 2);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const s of servers) {
      const r = await load(s.server.url, headers, SECONDS);
      if (r.non2xx + r.errors > 0) throw new Error(`DB_POOL_MAX=${s.size}: ${r.non2xx + r.errors} failed responses`);
      s.runs.push(r);
      log(`  round ${round}, DB_POOL_MAX=${s.size}: ${Math.round(r.rps)} req/s, p99 ${r.p99} ms`);
    }
  }
  console.log(
    `verify-key alone, cache off, through PgBouncer (transaction mode, ${SERVER_POOL} server connections), ` +
      `${CONNECTIONS} connections, ${SECONDS} s runs, median of ${ROUNDS} interleaved rounds:`,
  );
  for (const s of servers) {
    console.log(
      `  DB_POOL_MAX=${s.size}: ${Math.round(median(s.runs.map((r) => r.rps)))} req/s, p99 ${median(s.runs.map((r) => r.p99))} ms`,
    );
  }
} finally {
  for (const s of started) await s.stop().catch(() => {});
  await bouncer?.stop();
  await admin.query(`drop database if exists ${name} with (force)`).catch(() => {});
  await admin.end();
}
