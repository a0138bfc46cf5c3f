/**
 * Many isolates against one small database: six function processes (real
 * Deno, each function alone as Supabase runs it) share a Postgres cluster of
 * the test's own with `max_connections = 60`, like a Micro project. Under
 * concurrent load the functions' connections stay inside their budget
 * (processes x DB_POOL_MAX), an ordinary client can still connect
 * throughout, every failure is a 503 with Retry-After, a revoked key is
 * refused by every process within the cache bound, idle connections are
 * given back, and a database that refuses connections (53300) is a 503 that
 * recovers by itself.
 */
import { spawn } from "node:child_process";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CACHE_TTL_MS, DEFAULT_DB_POOL_MAX } from "../../functions/_shared/config/defaults.ts";
import { DB_IDLE_TIMEOUT_MS } from "../../functions/_shared/db/db.ts";
import { generateApiKey } from "../../functions/_shared/keys/format.ts";
import { denoRunArgs } from "../../scripts/deno-run.mjs";
import { migrate } from "../../scripts/migrate.mjs";
import { insertKey } from "../helpers/keys.ts";
import {
  POSTGRES_INSTALL_HINT,
  type PostgresCluster,
  postgresBinDir,
  startPostgresCluster,
} from "../helpers/postgres-cluster.ts";
import { denoBin, freePort, projectRoot } from "../helpers/server.ts";

const required = process.env.KEYGATE_REQUIRE_ALL === "1";
const missing = postgresBinDir() ? null : `initdb/postgres are not installed (${POSTGRES_INSTALL_HINT})`;
if (missing && !required) console.log(`skipping the many-isolates test: ${missing}`);

const MAX_CONNECTIONS = 60;
const FUNCTIONS = ["verify-key", "verify-key", "verify-key", "verify-key", "jobs", "jobs"];
const BUDGET = FUNCTIONS.length * DEFAULT_DB_POOL_MAX;
const LOAD_MS = 4000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface FunctionProcess {
  name: string;
  url: string;
  output(): string;
  stop(): Promise<void>;
}

async function startFunction(name: string, databaseUrl: string): Promise<FunctionProcess> {
  const port = await freePort();
  const child = spawn(denoBin, denoRunArgs("scripts/bench/serve-function.ts"), {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DENO_DIR: process.env.DENO_DIR ?? "",
      NO_COLOR: "1",
      PORT: String(port),
      FUNCTION: name,
      DATABASE_URL: databaseUrl,
      // The load posts jobs as fast as the database allows; the per-owner
      // creation limit is tested elsewhere and must not answer here.
      JOBS_CREATE_PER_MINUTE: "1000000",
      JOBS_MAX_UNFINISHED: "1000000",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 90 s:\n${output}`)), 90_000);
    child.stdout.on("data", () => {
      if (output.includes("listening")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${output}`));
    });
  });
  return {
    name,
    url: `http://127.0.0.1:${port}/${name}`,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

describe.skipIf(missing !== null && !required)("six function processes against a 60-connection database", () => {
  let cluster: PostgresCluster;
  let admin: pg.Client;
  let appUrl: string;
  let observerUrl: string;
  const processes: FunctionProcess[] = [];
  let key: { id: string; key: string };

  /** Connections the functions hold in the application database. */
  async function functionConnections(): Promise<number> {
    const { rows } = await admin.query(
      "select count(*)::int as n from pg_stat_activity where datname = 'keygate' and backend_type = 'client backend'",
    );
    return rows[0].n;
  }

  beforeAll(async () => {
    if (missing) throw new Error(`KEYGATE_REQUIRE_ALL=1 but ${missing}`);
    cluster = await startPostgresCluster({ max_connections: MAX_CONNECTIONS });
    admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query("create database keygate");
    // An ordinary role (no superuser slots) to show that others can still connect.
    await admin.query("create role observer login");
    appUrl = cluster.url.replace(/\/postgres$/, "/keygate");
    observerUrl = cluster.url.replace("postgres@", "observer@");
    await migrate(appUrl, { quiet: true });
    const setup = new pg.Pool({ connectionString: appUrl, max: 1 });
    const { rows } = await setup.query(
      // A member: a viewer's keys verify with read scopes only, and this load writes jobs.
      "insert into public.users (email, role) values ('isolates@example.test', 'member') returning id",
    );
    key = await insertKey(setup, rows[0].id, { scopes: ["jobs:read", "jobs:write"] });
    await setup.end();
    for (const name of FUNCTIONS) processes.push(await startFunction(name, appUrl));
  }, 240_000);

  afterAll(async () => {
    for (const p of processes) await p.stop();
    await admin?.end().catch(() => {});
    await cluster?.stop();
  });

  it("keeps the functions' connections inside the budget under load, with room for others and only 503s as failures", async () => {
    const samples: number[] = [];
    const observerFailures: string[] = [];
    const served = new Map<FunctionProcess, number>();
    const wrong: string[] = [];
    // At least LOAD_MS of load, and on a slow machine longer, until the
    // observer has connected a few times (bounded).
    const started = Date.now();
    let observerConnects = 0;
    const going = () =>
      Date.now() - started < LOAD_MS ||
      ((observerConnects < 3 || samples.length < 5) && Date.now() - started < LOAD_MS + 20_000);

    // The count, sampled on an open connection; and a new ordinary connection
    // each round, which must always get in.
    const sample = async () => {
      while (going()) {
        samples.push(await functionConnections());
        await sleep(50);
      }
    };
    const observe = async () => {
      while (going()) {
        const client = new pg.Client({ connectionString: observerUrl });
        client.on("error", () => {});
        try {
          await client.connect();
          await client.query("select 1");
          observerConnects += 1;
        } catch (err) {
          observerFailures.push((err as Error).message);
        } finally {
          await client.end().catch(() => {});
        }
        await sleep(100);
      }
    };

    const request = async (p: FunctionProcess, i: number): Promise<void> => {
      let res: Response;
      let expected: number;
      if (p.name === "verify-key") {
        // Every other request a key never issued: each costs a query, like a cold cache.
        const presented = i % 2 === 0 ? key.key : generateApiKey("kg");
        expected = i % 2 === 0 ? 200 : 401;
        res = await fetch(p.url, { headers: { "x-api-key": presented } });
      } else if (i % 2 === 0) {
        expected = 200;
        res = await fetch(`${p.url}?limit=5`, { headers: { "x-api-key": key.key } });
      } else {
        expected = 202;
        res = await fetch(p.url, {
          method: "POST",
          headers: { "x-api-key": key.key, "content-type": "application/json" },
          body: JSON.stringify({ type: "isolates" }),
        });
      }
      await res.arrayBuffer();
      if (res.status === expected) served.set(p, (served.get(p) ?? 0) + 1);
      const label = `${p.name} ${res.status}`;
      const retryAfter = res.headers.get("retry-after");
      if (res.status !== expected && !(res.status === 503 && /^[1-5]$/.test(retryAfter ?? ""))) {
        wrong.push(`${label} retry-after=${retryAfter}`);
      }
    };

    const load = async (p: FunctionProcess) => {
      for (let i = 0; going(); i++) await request(p, i);
    };

    await Promise.all([sample(), observe(), ...processes.flatMap((p) => Array.from({ length: 4 }, () => load(p)))]);

    expect(wrong).toEqual([]);
    expect(observerFailures).toEqual([]);
    expect(observerConnects).toBeGreaterThanOrEqual(3);
    expect(samples.length).toBeGreaterThanOrEqual(5);
    // Under load the pools fill up to their budget, and never past it.
    expect(Math.max(...samples)).toBeGreaterThan(FUNCTIONS.length);
    expect(Math.max(...samples)).toBeLessThanOrEqual(BUDGET);
    // Every process served: the load reached all six.
    for (const p of processes) expect(served.get(p)).toBeGreaterThan(0);
    for (const p of processes) expect(p.output()).not.toMatch(/unhandled error/);
  });

  it("refuses a revoked key in every process within the cache bound", async () => {
    for (const p of processes) {
      const res = await fetch(p.name === "verify-key" ? p.url : `${p.url}?limit=1`, {
        headers: { "x-api-key": key.key },
      });
      expect(res.status).toBe(200); // cached now in each process
    }
    const appAdmin = new pg.Client({ connectionString: appUrl });
    await appAdmin.connect();
    const revokedAt = Date.now();
    await appAdmin.query("update public.api_keys set revoked_at = now() where id = $1", [key.id]);
    await appAdmin.end();

    const refusedAfter = await Promise.all(
      processes.map(async (p) => {
        for (;;) {
          const res = await fetch(p.name === "verify-key" ? p.url : `${p.url}?limit=1`, {
            headers: { "x-api-key": key.key },
          });
          await res.arrayBuffer();
          if (res.status === 401) return Date.now() - revokedAt;
          if (Date.now() - revokedAt > DEFAULT_CACHE_TTL_MS + 5000) return Infinity;
          await sleep(100);
        }
      }),
    );
    // The bound plus one poll and one request on a busy machine.
    for (const ms of refusedAfter) expect(ms).toBeLessThanOrEqual(DEFAULT_CACHE_TTL_MS + 1500);
  });

  it("gives idle connections back, and answers 503 while the database refuses connections, then recovers", async () => {
    await sleep(DB_IDLE_TIMEOUT_MS + 1500);
    expect(await functionConnections()).toBe(0);

    // Take every remaining slot, as other services of a small project might.
    const fillers: pg.Client[] = [];
    let refusal = "";
    for (let i = 0; i < MAX_CONNECTIONS + 5 && !refusal; i++) {
      const client = new pg.Client({ connectionString: cluster.url });
      client.on("error", () => {});
      try {
        await client.connect();
        fillers.push(client);
      } catch (err) {
        refusal = (err as { code?: string }).code ?? "?";
        await client.end().catch(() => {});
      }
    }
    const verifier = processes[0];
    const unseen = generateApiKey("kg");
    let during: Response;
    try {
      expect(refusal).toBe("53300");
      during = await fetch(verifier.url, { headers: { "x-api-key": unseen } });
    } finally {
      await Promise.all(fillers.map((c) => c.end().catch(() => {})));
    }
    expect(during.status).toBe(503);
    expect(during.headers.get("retry-after")).toMatch(/^[1-5]$/);
    expect((await during.json()).error.code).toBe("service_unavailable");

    let after = await fetch(verifier.url, { headers: { "x-api-key": unseen } });
    for (let i = 0; i < 20 && after.status !== 401; i++) {
      await sleep(250);
      after = await fetch(verifier.url, { headers: { "x-api-key": unseen } });
    }
    expect(after.status).toBe(401);
  });
});
