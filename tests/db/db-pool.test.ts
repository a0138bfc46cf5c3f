import { randomUUID } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeygateError } from "../../functions/_shared/core/errors.ts";
import { mapDbError } from "../../functions/_shared/db/errors.ts";
import { ConnectionPool, type PoolLimits } from "../../functions/_shared/db/pool.ts";
import { adminUrl } from "../helpers/postgres.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let admin: pg.Client;
const pools: ConnectionPool[] = [];

beforeAll(async () => {
  admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
});

afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  await admin.end();
});

/** A pool on the test Postgres whose connections carry their own application_name, to count them there. */
function poolFor(limits: Partial<PoolLimits>, url = adminUrl()) {
  const name = `kg_pool_${randomUUID().slice(0, 8)}`;
  const lost: Error[] = [];
  const pool = new ConnectionPool(
    { connectionString: url, application_name: name },
    { max: 2, waitMs: 5_000, queryTimeoutMs: 10_000, idleMs: 5_000, sweepMs: 50, ...limits },
    (err) => lost.push(err),
  );
  pools.push(pool);
  const backends = async (): Promise<{ pid: number; query: string }[]> =>
    (await admin.query("select pid, query from pg_stat_activity where application_name = $1", [name])).rows;
  return { pool, backends, lost };
}

function expectUnavailable(err: unknown): void {
  const mapped = mapDbError(err);
  expect(mapped).toBeInstanceOf(KeygateError);
  expect((mapped as KeygateError).status).toBe(503);
}

describe("the connection pool", () => {
  it("serves a burst of queries on at most max connections", async () => {
    const { pool, backends } = poolFor({ max: 3 });
    let peakOpen = 0;
    let peakBackends = 0;
    const burst = Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        pool.query<{ n: number }>({ text: "select $1::int as n, pg_sleep(0.005)", values: [i] }).then((r) => {
          peakOpen = Math.max(peakOpen, pool.openCount);
          return r.rows[0].n;
        }),
      ),
    );
    let done = false;
    const watching = (async () => {
      while (!done) {
        peakBackends = Math.max(peakBackends, (await backends()).length);
        await sleep(5);
      }
    })();
    const results = await burst;
    done = true;
    await watching;
    expect(results).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(peakOpen).toBe(3);
    expect(peakBackends).toBeGreaterThan(0);
    expect(peakBackends).toBeLessThanOrEqual(3);
  });

  it("fails a query that waited longer than waitMs for a connection, and serves again after", async () => {
    const { pool } = poolFor({ max: 1, waitMs: 300 });
    const long = pool.query({ text: "select pg_sleep(1)" });
    const started = Date.now();
    const waited = await pool.query({ text: "select 1" }).then(
      () => null,
      (err: Error) => err,
    );
    const elapsed = Date.now() - started;
    expect(waited?.message).toBe("timeout exceeded when trying to connect");
    expectUnavailable(waited);
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(900);
    expect(pool.waitingCount).toBe(0);
    await long;
    expect((await pool.query<{ one: number }>({ text: "select 1 as one" })).rows[0].one).toBe(1);
  });

  it("fails a query past queryTimeoutMs, closes its connection and opens another for the next", async () => {
    const { pool, backends } = poolFor({ max: 1, queryTimeoutMs: 300 });
    const started = Date.now();
    const timedOut = await pool.query({ text: "select pg_sleep(3)" }).then(
      () => null,
      (err: Error) => err,
    );
    expect(timedOut?.message).toBe("Query read timeout");
    expectUnavailable(timedOut);
    expect(Date.now() - started).toBeLessThan(1_500);
    const { pid } = (await pool.query<{ pid: number }>({ text: "select pg_backend_pid() as pid" })).rows[0];
    const stuck = (await backends()).filter((b) => b.query.includes("pg_sleep(3)"));
    // The stuck backend (still sleeping, or already gone) is not the one that answered.
    expect(stuck.every((b) => b.pid !== pid)).toBe(true);
    expect(pool.openCount).toBe(1);
  });

  it("keeps a connection after an error in the statement alone, and replaces one that was lost", async () => {
    const { pool, lost } = poolFor({ max: 1 });
    const pidOf = async () =>
      (await pool.query<{ pid: number }>({ text: "select pg_backend_pid() as pid" })).rows[0].pid;
    const first = await pidOf();
    const refused = await pool.query({ text: "select 1 / 0" }).then(
      () => null,
      (err: Error & { code?: string }) => err,
    );
    expect((refused as { code?: string }).code).toBe("22012");
    expect(await pidOf()).toBe(first);

    await admin.query("select pg_terminate_backend($1)", [first]);
    for (let i = 0; i < 100 && lost.length === 0; i++) await sleep(20);
    expect(lost.length).toBe(1);
    expect(pool.openCount).toBe(0);
    const second = await pidOf();
    expect(second).not.toBe(first);
  });

  it("replaces a connection whose prepared statement is gone, so the next use prepares it afresh", async () => {
    const { pool } = poolFor({ max: 1 });
    const named = { name: "kg_pool_test", text: "select pg_backend_pid() as pid" };
    const { pid: first } = (await pool.query<{ pid: number }>(named)).rows[0];
    // What a transaction pooler does to a named statement: the server no longer has it.
    await pool.query({ text: "deallocate kg_pool_test" });
    const missing = await pool.query(named).then(
      () => null,
      (err: Error & { code?: string }) => err,
    );
    expect((missing as { code?: string }).code).toBe("26000");
    expectUnavailable(missing);
    const { pid: second } = (await pool.query<{ pid: number }>(named)).rows[0];
    expect(second).not.toBe(first);
  });

  it("closes idle connections after idleMs", async () => {
    const { pool, backends } = poolFor({ max: 2, idleMs: 200 });
    await Promise.all([pool.query({ text: "select pg_sleep(0.05)" }), pool.query({ text: "select pg_sleep(0.05)" })]);
    expect(pool.openCount).toBe(2);
    expect((await backends()).length).toBe(2);
    for (let i = 0; i < 50 && (await backends()).length > 0; i++) await sleep(20);
    expect(pool.openCount).toBe(0);
    expect(pool.idleCount).toBe(0);
    expect(await backends()).toEqual([]);
  });

  describe("against a server that accepts connections and never answers", () => {
    let silent: Server;
    const sockets: Socket[] = [];
    let url: string;

    beforeAll(async () => {
      silent = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const { port } = silent.address() as { port: number };
      url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    });

    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });

    it("gives up within waitMs and frees the slot", async () => {
      const { pool } = poolFor({ max: 1, waitMs: 300 }, url);
      const started = Date.now();
      const failures = await Promise.all(
        [0, 1].map(() =>
          pool.query({ text: "select 1" }).then(
            () => null,
            (err: Error) => err,
          ),
        ),
      );
      for (const err of failures) expectUnavailable(err);
      expect(Date.now() - started).toBeLessThan(1_500);
      for (let i = 0; i < 50 && pool.openCount > 0; i++) await sleep(20);
      expect(pool.openCount).toBe(0);
    });
  });

  it("answers a refused connection with an error that maps to 503", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as { port: number };
    await new Promise((resolve) => probe.close(resolve));
    const { pool } = poolFor({ max: 1 }, `postgresql://postgres@127.0.0.1:${port}/postgres`);
    const err = await pool.query({ text: "select 1" }).then(
      () => null,
      (e: Error) => e,
    );
    expectUnavailable(err);
    expect(pool.openCount).toBe(0);
  });

  it("settles every query of a mixed flood (answers, errors, timeouts, killed connections) within max", async () => {
    // A generous wait, so that the outcomes depend on the kinds, not on how loaded the machine is.
    const { pool, backends } = poolFor({ max: 3, waitMs: 5_000, queryTimeoutMs: 200 });
    const kinds = ["ok", "error", "slow", "kill"] as const;
    let peakOpen = 0;
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const kind = kinds[i % kinds.length];
        const text = {
          ok: "select 1 as one",
          error: "select 1 / 0",
          slow: "select pg_sleep(1)",
          // Ends its own connection from the server's side, mid-query.
          kill: "select pg_terminate_backend(pg_backend_pid())",
        }[kind];
        return pool.query({ text }).then(
          () => ({ kind, outcome: "answered" }),
          (err: Error & { code?: string }) => {
            peakOpen = Math.max(peakOpen, pool.openCount);
            if (err.code === "22012") return { kind, outcome: "refused" };
            expectUnavailable(err);
            return { kind, outcome: "unavailable" };
          },
        );
      }),
    );
    // Every query settled (Promise.all returned), each as its kind says, and nothing was
    // answered that should not have been.
    expect(peakOpen).toBeLessThanOrEqual(3);
    const outcomesOf = (kind: string) => [...new Set(outcomes.filter((o) => o.kind === kind).map((o) => o.outcome))];
    expect(outcomesOf("ok")).toEqual(["answered"]);
    expect(outcomesOf("error")).toEqual(["refused"]);
    expect(outcomesOf("slow")).toEqual(["unavailable"]);
    expect(outcomesOf("kill")).toEqual(["unavailable"]);
    // Afterwards the pool serves as new, and gives every connection back when idle.
    expect((await pool.query<{ one: number }>({ text: "select 1 as one" })).rows[0].one).toBe(1);
    expect(pool.openCount).toBeLessThanOrEqual(3);
    expect(pool.waitingCount).toBe(0);
    // A timed-out statement's server process ends with its statement (at most 1 s here).
    for (let i = 0; i < 100 && (await backends()).length > 3; i++) await sleep(20);
    expect((await backends()).length).toBeLessThanOrEqual(3);
  });

  it("on end, refuses new queries, finishes every query already accepted and closes every connection", async () => {
    const { pool, backends } = poolFor({ max: 1 });
    // Accepted just before end(): one still connecting, one waiting behind it.
    const connecting = pool.query<{ n: number }>({ text: "select 1 as n, pg_sleep(0.1)" });
    const waiting = pool.query<{ n: number }>({ text: "select 2 as n" });
    const ending = pool.end();
    await expect(pool.query({ text: "select 1" })).rejects.toThrow(/after calling end/);
    expect((await connecting).rows[0].n).toBe(1);
    expect((await waiting).rows[0].n).toBe(2);
    await ending;
    expect(pool.openCount).toBe(0);
    for (let i = 0; i < 50 && (await backends()).length > 0; i++) await sleep(20);
    expect(await backends()).toEqual([]);
  });
});
