#!/usr/bin/env node
// @ts-check
// `npm run bench`: how fast is API key verification, measured against floors
// on the same machine and database (docs/benchmark.md: targets and figures).
//
// It makes a throwaway database on the local Postgres (TEST_DATABASE_URL, else
// postgresql://postgres@127.0.0.1:5432/postgres) through the real migration
// path, starts the real Deno server (scripts/serve.ts), creates a key through
// the api-keys function, and loads it with autocannon, each run in its own
// process, on loopback only:
//
//   L0       a Deno server answering a constant JSON (the HTTP floor)
//   L1       a Deno server: SHA-256 of the header + one indexed select through pg
//   valid    verify-key with a live key; also five back-to-back windows on one
//            server process, with the last window's throughput over the first
//   jobs     GET /jobs with a live key (withApiKey + list query)
//   malformed / unknown   verify-key refusals (no query / one query)
//   pooler   through a real transaction-mode pooler (PgBouncer, `pool_mode =
//            transaction`, as Supabase's Supavisor on port 6543): verify-key
//            alone with its cache off (API_KEY_CACHE_TTL_MS=0, so every check
//            is a query) against an L1 floor through the same pooler, in
//            interleaved rounds; and, for the record, the L1 select sent
//            named (a prepared statement) and unnamed on a direct connection
//
// each on the local server (all functions in one process, as `npm start`) and
// on verify-key alone in its own process (as Supabase runs each function),
// plus the database writes the five valid-key windows caused (pg_stat_database
// tuple counters, read after Postgres has flushed them) and each process's
// peak memory (VmHWM). L0 and the malformed-key runs take turns over several
// rounds and each malformed run is compared with its own round's L0 run
// (median of those ratios), because single runs on two shared cores swing by
// 10% or more and the machine's speed drifts over minutes. Bounded: about
// seven minutes in all. Options (environment): BENCH_CONNECTIONS (32),
// BENCH_SECONDS (8), BENCH_ROUNDS (5), BENCH_POOLER_SERVER_POOL (8, the
// pooler's server connections).
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { isLoopbackHost } from "../functions/_shared/core/loopback.js";
import { denoRunArgs, denoV8Flags } from "./deno-run.mjs";
import { migrate } from "./migrate.mjs";
import { pgbouncerBinary, startPgBouncer } from "./pgbouncer.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const deno = path.join(root, "node_modules", ".bin", "deno");
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const WARMUP_SECONDS = 2;
const WINDOWS = 5;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const POOLER_SERVER_POOL = Number(process.env.BENCH_POOLER_SERVER_POOL ?? 8);
const STATS_FLUSH_MS = 11_000; // an idle backend flushes its statistics within 10 s

// With two or more cores and taskset (util-linux), the load generator gets
// core 0 and the servers the others, so that they do not take turns on one
// core: run-to-run spread drops from about 10% to a few percent. Postgres is
// a system service and stays where the kernel puts it.
const pinned = os.cpus().length >= 2 && spawnSync("taskset", ["-c", "0", "true"]).status === 0;
const serverCores = os.cpus().length > 2 ? `1-${os.cpus().length - 1}` : "1";
/**
 * The command and arguments that run `command` on `cores` when pinning works.
 * @param {string} cores
 * @param {string} command
 * @param {string[]} args
 * @returns {[string, string[]]}
 */
function pin(cores, command, args) {
  return pinned ? ["taskset", ["-c", cores, command, ...args]] : [command, args];
}

const adminUrl = process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const log = (/** @type {string} */ message) => process.stderr.write(`${message}\n`);
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** @param {string} name */
function databaseUrl(name) {
  const url = new URL(adminUrl);
  if (!isLoopbackHost(url.hostname)) throw new Error("the bench runs on a loopback database only");
  url.pathname = `/${name}`;
  return url.toString();
}

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
 * Starts a Deno program that prints "listening" once it serves on $PORT.
 * @param {string} script
 * @param {Record<string, string>} env
 */
async function startDeno(script, env) {
  const port = await freePort();
  const child = spawn(...pin(serverCores, deno, denoRunArgs(script)), {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  /** @type {Promise<void>} */
  const started = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${output}`)), 60_000);
    child.stdout.on("data", () => {
      if (/listening/i.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}:\n${output}`));
    });
  });
  await started;
  return {
    url: `http://127.0.0.1:${port}`,
    /** Peak resident memory so far, in MiB (Linux /proc). */
    async peakMiB() {
      const status = await readFile(`/proc/${child.pid}/status`, "utf8");
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** @typedef {import("./bench/load.mjs").LoadResult} LoadResult */
/** @typedef {"2xx" | "4xx" | "5xx"} StatusClass */

/**
 * One autocannon run in a separate process (scripts/bench/load.mjs).
 * @param {string} url
 * @param {Record<string, string> | Record<string, string>[]} headers (a list: one set per connection)
 * @returns {Promise<LoadResult>}
 */
async function load(url, headers, seconds = SECONDS) {
  const options = JSON.stringify({ url, headers, connections: CONNECTIONS, seconds });
  return await new Promise((resolve, reject) => {
    const child = spawn(...pin("0", process.execPath, [path.join(root, "scripts", "bench", "load.mjs"), options]), {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited with ${code}`)),
    );
  });
}

/**
 * One measured run; throws unless every response had the expected status class.
 * @param {string} label
 * @param {string} url
 * @param {Record<string, string> | Record<string, string>[]} headers (a list: one set per connection)
 * @param {StatusClass} expect
 */
async function checkedLoad(label, url, headers, expect) {
  const result = await load(url, headers);
  const wrong = result.errors + (expect === "2xx" ? result.non2xx : result.requests - result.status[expect]);
  if (wrong > 0) throw new Error(`${label}: ${wrong} of ${result.requests} responses were not ${expect} (or failed)`);
  log(`  ${label}: ${Math.round(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms`);
  return result;
}

/**
 * Warm up, then measure once.
 * @param {string} label
 * @param {string} url
 * @param {Record<string, string> | Record<string, string>[]} headers (a list: one set per connection)
 * @param {StatusClass} expect
 */
async function measure(label, url, headers, expect) {
  await load(url, headers, WARMUP_SECONDS);
  return await checkedLoad(label, url, headers, expect);
}

/**
 * Scenarios measured in interleaved rounds (A B C, A B C, ...), so that a slow
 * stretch of the machine hits each alike. Returns every scenario's runs, in
 * round order.
 * @param {{ label: string, url: string, headers: Record<string, string> | Record<string, string>[], expect: StatusClass }[]} scenarios
 */
async function interleaved(scenarios) {
  for (const s of scenarios) await load(s.url, s.headers, WARMUP_SECONDS);
  const runs = scenarios.map(() => /** @type {LoadResult[]} */ ([]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, s] of scenarios.entries())
      runs[i].push(await checkedLoad(`${s.label} (round ${round + 1})`, s.url, s.headers, s.expect));
  }
  return runs;
}

const median = (/** @type {number[]} */ values) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];
const medianRun = (/** @type {LoadResult[]} */ runs) =>
  runs.toSorted((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)];
/**
 * Median over rounds of each run's throughput over the floor's run of the same round: neighbours in time share the machine's speed.
 * @param {LoadResult[]} runs
 * @param {LoadResult[]} floors
 */
const pairedRatio = (runs, floors) => median(runs.map((r, i) => r.rps / floors[i].rps));

/**
 * @param {pg.ClientBase} admin
 * @param {string} name
 */
async function writeCounters(admin, name) {
  const { rows } = await admin.query(
    "select tup_inserted + tup_updated + tup_deleted as writes, xact_commit from pg_stat_database where datname = $1",
    [name],
  );
  return Number(rows[0].writes);
}

/**
 * A session for a new user, made as the auth function makes them.
 * @param {pg.Pool} db
 */
async function signIn(db) {
  const { rows } = await db.query(
    "insert into public.users (email, name) values ('bench@example.test', 'Bench') returning id",
  );
  const token = randomBytes(32).toString("base64url");
  await db.query("select keygate.create_session($1, $2, 3600)", [
    rows[0].id,
    createHash("sha256").update(token).digest(),
  ]);
  return `kg_session=${token}`;
}

/**
 * `count` well-formed keys (right prefix and checksum), made by the key format's own code.
 * @param {number} count
 * @returns {Promise<string[]>}
 */
async function generatedKeys(count) {
  const code = `import { generateApiKey } from "./functions/_shared/keys/format.ts"; for (let i = 0; i < ${count}; i++) console.log(generateApiKey("kg"));`;
  return await new Promise((resolve, reject) => {
    const child = spawn(deno, ["eval", "--node-modules-dir=manual", "--config", "functions/deno.json", code], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", (c) => (c === 0 ? resolve(out.trim().split("\n")) : reject(new Error("could not generate keys"))));
  });
}

/**
 * One live key per load connection for the bench user, written straight to the database (the
 * API caps a user at 25 live keys): uncached checks that share no read with a concurrent
 * check of the same key, since the verifier lets concurrent misses of one key share a read.
 * @param {pg.Pool} db
 * @returns {Promise<Record<string, string>[]>}
 */
async function keyPerConnection(db) {
  const keys = await generatedKeys(CONNECTIONS);
  for (const key of keys) {
    await db.query(
      `insert into public.api_keys (user_id, name, start, key_hash, scopes)
       select id, 'bench-cold', $1, $2, '{jobs:read}' from public.users where email = 'bench@example.test'`,
      [key.slice(0, 10), createHash("sha256").update(key).digest()],
    );
  }
  return keys.map((key) => ({ "x-api-key": key }));
}

/** @param {(string | number)[][]} rows */
function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  "))
    .join("\n");
}

const ratio = (/** @type {number} */ a, /** @type {number} */ b) => (a / b).toFixed(2);
const mark = (/** @type {boolean} */ ok) => (ok ? "ok" : "MISSED");

async function main() {
  const name = `kg_bench_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const servers = [];
  let dropped = false;
  try {
    log(`Creating database ${name} and applying migrations...`);
    await admin.query(`create database ${name}`);
    const url = databaseUrl(name);
    await migrate(url, { quiet: true });
    const db = new pg.Pool({ connectionString: url, max: 2 });
    const cookie = await signIn(db);

    log("Starting the Keygate server (scripts/serve.ts)...");
    const keygate = await startDeno("scripts/serve.ts", {
      DATABASE_URL: url,
      KEYGATE_ENV: "development",
      SESSION_SECRET: randomBytes(32).toString("base64url"),
      API_KEY_CREATE_PER_MINUTE: "1000",
    });
    servers.push(keygate);
    const fn = (/** @type {string} */ p) => `${keygate.url}/functions/v1/${p}`;
    const created = await fetch(fn("api-keys"), {
      method: "POST",
      headers: { cookie, origin: keygate.url, "content-type": "application/json" },
      body: JSON.stringify({ name: "bench" }),
    });
    if (created.status !== 201) throw new Error(`creating a key failed: ${created.status} ${await created.text()}`);
    const { id: keyId, key } = await created.json();
    await fetch(fn("jobs"), {
      method: "POST",
      headers: { "x-api-key": key, "content-type": "application/json" },
      body: '{"type":"bench"}',
    });
    const valid = { "x-api-key": key };
    const unknown = { "x-api-key": (await generatedKeys(1))[0] };
    const malformed = { "x-api-key": "kg_this-is-not-a-key" };
    if ((await fetch(fn("verify-key"), { headers: valid })).status !== 200)
      throw new Error("the bench key does not verify");

    log("Starting the verify-key function alone in its own process (as Supabase runs each function)...");
    const alone = await startDeno("scripts/bench/serve-function.ts", { FUNCTION: "verify-key", DATABASE_URL: url });
    servers.push(alone);
    const aloneUrl = `${alone.url}/verify-key`;
    const l0Server = await startDeno("scripts/bench/floor-l0.ts", {});
    servers.push(l0Server);

    log(`Load: autocannon, ${CONNECTIONS} connections, ${SECONDS} s per run after ${WARMUP_SECONDS} s of warm-up.`);
    log(`L0 floor (constant JSON) and malformed keys, ${ROUNDS} interleaved rounds...`);
    const [l0Runs, badAloneRuns, badRuns] = await interleaved([
      { label: "L0", url: `${l0Server.url}/`, headers: valid, expect: "2xx" },
      { label: "malformed key, verify-key alone", url: aloneUrl, headers: malformed, expect: "4xx" },
      { label: "malformed key", url: fn("verify-key"), headers: malformed, expect: "4xx" },
    ]);
    const [l0, badAlone, bad] = [l0Runs, badAloneRuns, badRuns].map(medianRun);
    const badAloneRatio = pairedRatio(badAloneRuns, l0Runs);
    const badRatio = pairedRatio(badRuns, l0Runs);
    const l0Peak = await l0Server.peakMiB();
    await l0Server.stop();

    // The key's one last_used_at write happened above; let its statistics flush.
    await sleep(STATS_FLUSH_MS);
    const writesBefore = await writeCounters(admin, name);
    const rowBefore = (await db.query("select xmin::text, last_used_at from public.api_keys where id = $1", [keyId]))
      .rows[0];

    log(
      `Valid key, ${WINDOWS} consecutive ${SECONDS}-second windows on one server (after ${WARMUP_SECONDS} s of warm-up)...`,
    );
    const windowsStart = Date.now();
    await load(fn("verify-key"), valid, WARMUP_SECONDS);
    const windows = [];
    for (let i = 0; i < WINDOWS; i++) {
      const w = await load(fn("verify-key"), valid);
      if (w.non2xx + w.errors > 0) throw new Error(`window ${i + 1}: ${w.non2xx + w.errors} failed responses`);
      windows.push(w);
      log(`  window ${i + 1}: ${Math.round(w.rps)} req/s, p99 ${w.p99} ms`);
    }
    const verifies = windows.reduce((n, w) => n + w.requests, 0);
    // last_used_at is written at most once a minute per key: the only write allowed.
    const touchBudget = Math.floor((Date.now() - windowsStart) / 60_000) + 1;

    log("L1 floor (SHA-256 + one indexed select through pg)...");
    const l1Server = await startDeno("scripts/bench/floor-l1.ts", { DATABASE_URL: url });
    servers.push(l1Server);
    const l1 = await measure("L1", `${l1Server.url}/`, valid, "2xx");
    const l1Peak = await l1Server.peakMiB();
    await l1Server.stop();

    await sleep(Math.max(0, STATS_FLUSH_MS - (SECONDS + WARMUP_SECONDS) * 1000));
    const writes = (await writeCounters(admin, name)) - writesBefore;
    const rowAfter = (await db.query("select xmin::text, last_used_at from public.api_keys where id = $1", [keyId]))
      .rows[0];
    const rowUntouched = rowAfter.xmin === rowBefore.xmin;
    const touched = rowAfter.last_used_at?.getTime() !== rowBefore.last_used_at?.getTime();
    // Every write counted must be a last_used_at touch: the row changed only if its timestamp did.
    const writesOk = writes <= touchBudget && (writes === 0 ? rowUntouched : touched);

    log("Scenarios on the Keygate server...");
    const validRun = await measure("valid key", fn("verify-key"), valid, "2xx");
    const jobs = await measure("valid key, GET /jobs", fn("jobs?limit=10"), valid, "2xx");
    const unk = await measure("unknown key", fn("verify-key"), unknown, "4xx");
    const peak = await keygate.peakMiB();

    log("Scenarios on verify-key alone...");
    const aloneRun = await measure("valid key, verify-key alone", aloneUrl, valid, "2xx");
    // The hot path (valid and malformed keys) first; unknown keys each cost a query, like L1.
    const hotPeak = await alone.peakMiB();
    const unkAlone = await measure("unknown key, verify-key alone", aloneUrl, unknown, "4xx");
    const alonePeak = await alone.peakMiB();
    await alone.stop();
    await keygate.stop();

    if (!pgbouncerBinary())
      throw new Error("pgbouncer is not installed (apt-get install pgbouncer): the pooler targets cannot run");
    log(
      `Through a transaction-mode pooler (PgBouncer, ${POOLER_SERVER_POOL} server connections), and named vs unnamed statements direct, ${ROUNDS} interleaved rounds...`,
    );
    const bouncer = await startPgBouncer({ target: url, poolSize: POOLER_SERVER_POOL, maxClientConn: 200 });
    let pooler;
    try {
      const pooledUrl = bouncer.urlFor(url);
      const coldKeys = await keyPerConnection(db);
      const l1Pooled = await startDeno("scripts/bench/floor-l1.ts", { DATABASE_URL: pooledUrl });
      servers.push(l1Pooled);
      const coldPooled = await startDeno("scripts/bench/serve-function.ts", {
        FUNCTION: "verify-key",
        DATABASE_URL: pooledUrl,
        API_KEY_CACHE_TTL_MS: "0",
      });
      servers.push(coldPooled);
      const l1Named = await startDeno("scripts/bench/floor-l1.ts", { DATABASE_URL: url, L1_NAMED: "1" });
      servers.push(l1Named);
      const l1Unnamed = await startDeno("scripts/bench/floor-l1.ts", { DATABASE_URL: url });
      servers.push(l1Unnamed);
      const [l1PooledRuns, coldRuns, namedRuns, unnamedRuns] = await interleaved([
        { label: "L1 through the pooler", url: `${l1Pooled.url}/`, headers: coldKeys, expect: "2xx" },
        {
          label: "verify-key alone, cache off, through the pooler",
          url: `${coldPooled.url}/verify-key`,
          headers: coldKeys,
          expect: "2xx",
        },
        { label: "L1 direct, named statement", url: `${l1Named.url}/`, headers: valid, expect: "2xx" },
        { label: "L1 direct, unnamed statement", url: `${l1Unnamed.url}/`, headers: valid, expect: "2xx" },
      ]);
      pooler = {
        l1: medianRun(l1PooledRuns),
        cold: medianRun(coldRuns),
        coldRatio: pairedRatio(coldRuns, l1PooledRuns),
        named: medianRun(namedRuns),
        unnamed: medianRun(unnamedRuns),
        unnamedRatio: pairedRatio(unnamedRuns, namedRuns),
      };
      for (const server of [l1Pooled, coldPooled, l1Named, l1Unnamed]) await server.stop();
    } finally {
      await bouncer.stop();
    }
    await db.end();

    const sustained = windows[WINDOWS - 1].rps / windows[0].rps;
    // autocannon counts latency in whole milliseconds: a 0 ms floor has no ratio.
    const p99Ratio = (/** @type {LoadResult} */ r, /** @type {LoadResult} */ floor) =>
      floor.p99 > 0 ? `${ratio(r.p99, floor.p99)}x` : "-";
    /**
     * @param {string} label
     * @param {LoadResult} r
     * @param {LoadResult} floor
     */
    const row = (label, r, floor, rpsRatio = r.rps / floor.rps) => [
      label,
      Math.round(r.rps),
      r.p50,
      r.p99,
      `${rpsRatio.toFixed(2)}x`,
      p99Ratio(r, floor),
    ];
    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    console.log(
      `\nKeygate verification benchmark: ${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
        `Node ${process.version}, Postgres on 127.0.0.1, autocannon ${CONNECTIONS} connections, ${SECONDS} s runs; ` +
        `every Deno process (floors included) runs with ${denoV8Flags.join(" ")}; ` +
        `pooler: PgBouncer pool_mode = transaction, ${POOLER_SERVER_POOL} server connections, functions and floors DB_POOL_MAX 4; ` +
        (pinned ? `load generator on core 0, servers on core(s) ${serverCores}\n` : "processes not pinned to cores\n"),
    );
    console.log(
      table([
        ["scenario", "req/s", "p50 ms", "p99 ms", "rps/floor", "p99/floor"],
        row(`L0 floor: constant JSON (median of ${ROUNDS})`, l0, l0),
        row("L1 floor: sha256 + indexed select", l1, l1),
        row("verify-key alone: valid key (vs L1)", aloneRun, l1),
        row(`verify-key alone: malformed key (vs L0, median of ${ROUNDS} paired)`, badAlone, l0, badAloneRatio),
        row("verify-key alone: unknown key (vs L1)", unkAlone, l1),
        row("local server: valid key (vs L1)", validRun, l1),
        row("local server: valid key, GET /jobs (vs L1)", jobs, l1),
        row(`local server: malformed key (vs L0, median of ${ROUNDS} paired)`, bad, l0, badRatio),
        row("local server: unknown key (vs L1)", unk, l1),
        row(`L1 floor through the pooler (median of ${ROUNDS})`, pooler.l1, pooler.l1),
        row(
          `verify-key alone, cache off, through the pooler (vs pooled L1, median of ${ROUNDS} paired)`,
          pooler.cold,
          pooler.l1,
          pooler.coldRatio,
        ),
        row(`L1 select direct, named prepared statement (median of ${ROUNDS})`, pooler.named, pooler.named),
        row(
          `L1 select direct, unnamed (vs named, median of ${ROUNDS} paired)`,
          pooler.unnamed,
          pooler.named,
          pooler.unnamedRatio,
        ),
      ]),
    );
    console.log(
      `\nsustained (local server): windows ${windows.map((w) => Math.round(w.rps)).join(", ")} req/s; last/first ${sustained.toFixed(2)}`,
    );
    console.log(
      `database writes during ${verifies} valid-key verifications: ${writes} = ${(writes / verifies).toFixed(7)} per verify ` +
        `(key row ${rowUntouched ? "unchanged" : "last_used_at touched"}; allowed: last_used_at at most once a minute, ${touchBudget} in this span)`,
    );
    console.log(
      `peak memory (VmHWM): L0 ${l0Peak.toFixed(1)} MiB; L1 ${l1Peak.toFixed(1)} MiB = ${ratio(l1Peak, l0Peak)}x L0;\n` +
        `  verify-key alone after valid and malformed keys ${hotPeak.toFixed(1)} MiB = ${ratio(hotPeak, l0Peak)}x L0;\n` +
        `  verify-key alone after unknown keys too ${alonePeak.toFixed(1)} MiB = ${ratio(alonePeak, l0Peak)}x L0 = ${ratio(alonePeak, l1Peak)}x L1;\n` +
        `  local server, every function in one process (not a target) ${peak.toFixed(1)} MiB = ${ratio(peak, l0Peak)}x L0`,
    );
    console.log("\ntargets:");
    const targets = [
      ["sustained last/first >= 0.9", sustained.toFixed(2), mark(sustained >= 0.9)],
      [
        "valid key >= 0.8x L1 throughput (local server)",
        ratio(validRun.rps, l1.rps),
        mark(validRun.rps >= 0.8 * l1.rps),
      ],
      [
        "valid key >= 0.8x L1 throughput (verify-key alone)",
        ratio(aloneRun.rps, l1.rps),
        mark(aloneRun.rps >= 0.8 * l1.rps),
      ],
      [
        "valid key p99 <= 1.25x L1 p99 (local server)",
        ratio(validRun.p99, l1.p99),
        mark(validRun.p99 <= 1.25 * l1.p99),
      ],
      [
        "valid key p99 <= 1.25x L1 p99 (verify-key alone)",
        ratio(aloneRun.p99, l1.p99),
        mark(aloneRun.p99 <= 1.25 * l1.p99),
      ],
      ["malformed key >= 0.9x L0 (local server)", badRatio.toFixed(2), mark(badRatio >= 0.9)],
      ["malformed key >= 0.9x L0 (verify-key alone)", badAloneRatio.toFixed(2), mark(badAloneRatio >= 0.9)],
      ["zero writes per verify (last_used_at once a minute)", `${writes} in ${verifies}`, mark(writesOk)],
      [
        "peak memory < 1.5x L0 (verify-key alone, valid and malformed keys)",
        ratio(hotPeak, l0Peak),
        mark(hotPeak < 1.5 * l0Peak),
      ],
      [
        "cold key through the pooler >= 0.8x pooled L1 (no error)",
        pooler.coldRatio.toFixed(2),
        mark(pooler.coldRatio >= 0.8),
      ],
    ];
    console.log(table(targets));
    const missed = targets.filter((t) => t[2] !== "ok").length;
    console.log(missed === 0 ? "\nall targets met" : `\n${missed} target(s) MISSED`);
    if (missed > 0) process.exitCode = 1;
  } finally {
    for (const server of servers.reverse()) await server.stop().catch(() => {});
    if (!dropped) {
      await admin
        .query(`drop database if exists ${name} with (force)`)
        .catch((err) => log(`could not drop ${name}: ${err.message}`));
      dropped = true;
    }
    await admin.end();
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
