/**
 * A statement that runs past the pool's deadline is stopped on the server,
 * not only abandoned by the client: gone from pg_stat_activity soon after the
 * 503, its connection slot given back. Straight to Postgres, through the
 * transaction pooler (the pooler run of this suite), and over TLS to a
 * cluster of the test's own that requires it.
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionPool } from "../../functions/_shared/db/pool.ts";
import { until } from "../helpers/call.ts";
import { createTestDatabase, type TestDatabase, throughPooler } from "../helpers/database.ts";
import { type PostgresCluster, startPostgresCluster } from "../helpers/postgres-cluster.ts";

const DEADLINE_MS = 400;

let t: TestDatabase;
const pools: ConnectionPool[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  await t?.drop();
});

function poolOn(config: pg.ClientConfig, max = 1): ConnectionPool {
  const pool = new ConnectionPool(config, {
    max,
    waitMs: 3_000,
    queryTimeoutMs: DEADLINE_MS,
    idleMs: 5_000,
    sweepMs: 50,
  });
  pools.push(pool);
  return pool;
}

/** The backends still running the statement marked `marker`, as `admin` sees them. */
async function running(admin: pg.Pool | pg.Client, marker: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    "select count(*)::int as n from pg_stat_activity where state = 'active' and query like $1 and pid <> pg_backend_pid()",
    [`%${marker}%`],
  );
  return rows[0].n;
}

/** Sends a 30-second statement marked with a fresh marker; the marker and its error. */
async function slowStatement(pool: ConnectionPool): Promise<{ marker: string; err: Error | null; tookMs: number }> {
  const marker = `kg_deadline_${randomUUID().slice(0, 8)}`;
  const started = Date.now();
  const err = await pool.query({ text: `select pg_sleep(30) /* ${marker} */` }).then(
    () => null,
    (e: Error) => e,
  );
  return { marker, err, tookMs: Date.now() - started };
}

describe(`a statement past the deadline${throughPooler() ? " (through the transaction pooler)" : ""}`, () => {
  it("is cancelled on the server: gone from pg_stat_activity soon after the 503", async () => {
    const pool = poolOn({ connectionString: t.url });
    const { marker, err, tookMs } = await slowStatement(pool);
    expect(err?.message).toBe("Query read timeout");
    expect(tookMs).toBeLessThan(DEADLINE_MS + 1_000);
    expect(
      await until(
        () => running(t.admin, marker),
        (n) => n === 0,
        2_000,
      ),
    ).toBe(0);
  });

  it("gives its connection slot back once the server has ended it, and the pool serves again", async () => {
    const pool = poolOn({ connectionString: t.url });
    const stuck = await Promise.all([slowStatement(pool), slowStatement(pool)]);
    for (const { err } of stuck) expect(err?.message).toBe("Query read timeout");
    expect(
      await until(
        async () => pool.openCount,
        (n) => n <= 1,
        2_000,
      ),
    ).toBeLessThanOrEqual(1);
    const { rows } = await pool.query<{ one: number }>({ text: "select 1 as one" });
    expect(rows[0].one).toBe(1);
    for (const { marker } of stuck) expect(await running(t.admin, marker)).toBe(0);
  });

  it("leaves a statement inside the deadline alone", async () => {
    const pool = poolOn({ connectionString: t.url });
    const { rows } = await pool.query<{ done: boolean }>({ text: "select true as done from pg_sleep(0.1)" });
    expect(rows[0].done).toBe(true);
  });
});

// The TLS cluster needs openssl for its certificate: skipped with one line where it is missing.
const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
if (!hasOpenssl && !throughPooler()) {
  if (process.env.KEYGATE_REQUIRE_ALL === "1") throw new Error("KEYGATE_REQUIRE_ALL=1 but openssl is not installed");
  console.log("skipping the statement deadline over TLS: openssl is not installed (apt-get install openssl)");
}

describe.skipIf(throughPooler() || !hasOpenssl)("a statement past the deadline over TLS", () => {
  let cluster: PostgresCluster;
  let certDir: string;
  let admin: pg.Client;

  beforeAll(async () => {
    // A self-signed certificate of the test's own, readable by the server only.
    certDir = mkdtempSync(path.join(tmpdir(), "kg-tls-"));
    const [cert, key] = [path.join(certDir, "server.crt"), path.join(certDir, "server.key")];
    const made = spawnSync("openssl", [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"],
      ...["-keyout", key, "-out", cert],
    ]);
    if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
    if (process.getuid?.() === 0) {
      const uid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim());
      const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
      for (const file of [certDir, cert, key]) chownSync(file, uid, gid);
    }
    cluster = await startPostgresCluster({ ssl: "on", ssl_cert_file: cert, ssl_key_file: key });
    admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await admin?.end();
    await cluster?.stop();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  // Postgres takes a cancel before authentication, so a plain one would work here too: this holds
  // that the TLS handshake of the cancel (what a server refusing plain connections needs) works.
  it("sends the cancel over TLS too, and the statement is gone", async () => {
    const pool = poolOn({ connectionString: cluster.url, ssl: { rejectUnauthorized: false } });
    const { rows } = await pool.query<{ ssl: boolean }>({
      text: "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
    });
    expect(rows[0].ssl).toBe(true);
    const { marker, err } = await slowStatement(pool);
    expect(err?.message).toBe("Query read timeout");
    expect(
      await until(
        () => running(admin, marker),
        (n) => n === 0,
        2_000,
      ),
    ).toBe(0);
  });
});
