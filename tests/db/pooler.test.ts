/**
 * Keygate through a real transaction-mode pooler (PgBouncer, `pool_mode =
 * transaction`, two server connections), as a hosted deployment reaches
 * Supabase's Supavisor on port 6543: under concurrent load with the
 * verification cache off, key checks and job reads and writes all succeed;
 * a pooler that makes a client wait too long is a 503 with Retry-After, and
 * service goes on once it frees up. (The server suites themselves run
 * through a pooler too: the "pooler" project in vitest.config.ts.)
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeygateError } from "../../functions/_shared/core/errors.ts";
import { createDb } from "../../functions/_shared/db/db.ts";
import { generateApiKey } from "../../functions/_shared/keys/format.ts";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";
import { insertKey } from "../helpers/keys.ts";
import { pgbouncerMissing, type RunningPgBouncer, startPgBouncer } from "../helpers/pgbouncer.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";

const missing = pgbouncerMissing("the transaction-pooler tests");

describe.skipIf(missing !== null && process.env.KEYGATE_REQUIRE_ALL !== "1")(
  "through a transaction-mode pooler",
  () => {
    let database: TestDatabase;
    let pooler: RunningPgBouncer;
    let pooledUrl: string;
    let server: RunningServer;
    let key: string;

    beforeAll(async () => {
      if (missing) throw new Error(`KEYGATE_REQUIRE_ALL=1 but ${missing}`);
      database = await createTestDatabase();
      pooler = await startPgBouncer({ target: database.directUrl, poolSize: 2, queryWaitTimeout: 2 });
      pooledUrl = pooler.urlFor(database.directUrl);
      server = await startServer({ databaseUrl: pooledUrl, env: { API_KEY_CACHE_TTL_MS: "0" } });
      const user = await createUser(database.admin);
      key = (await insertKey(database.admin, user.id, { scopes: ["jobs:read", "jobs:write"] })).key;
    });
    afterAll(async () => {
      await server?.stop();
      await pooler?.stop();
      await database?.drop();
    });

    it("is a real transaction pooler: a named statement collides across clients", async () => {
      const clients = [new pg.Client({ connectionString: pooledUrl }), new pg.Client({ connectionString: pooledUrl })];
      await Promise.all(clients.map((c) => c.connect()));
      try {
        const codes: string[] = [];
        for (const client of [...clients, ...clients]) {
          await client.query({ name: "kg_probe", text: "select 1" }).then(
            () => codes.push("ok"),
            (err: { code?: string }) => codes.push(err.code ?? "?"),
          );
        }
        // Both clients share the pooler's server connections, where the name already exists.
        expect(codes).toContain("42P05");
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
    });

    it("keeps named statements (DB_PREPARED_STATEMENTS=true) to direct connections: through the pooler they fail, as 503s", async () => {
      const run = async (url: string) => {
        const db = createDb(url, { max: 4, prepared: true });
        try {
          const results = await Promise.allSettled(
            Array.from({ length: 40 }, () => db.query("select keygate.verify_api_key($1) is null", [Buffer.alloc(32)])),
          );
          return results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason);
        } finally {
          await db.end();
        }
      };
      expect(await run(database.directUrl)).toEqual([]);
      const failures = await run(pooledUrl);
      expect(failures.length).toBeGreaterThan(0);
      for (const err of failures)
        expect([err instanceof KeygateError, (err as KeygateError).status]).toEqual([true, 503]);
    });

    it("serves uncached key checks and job reads and writes under load with no 5xx", async () => {
      const requests = 360;
      const concurrency = 24;
      const statuses = new Map<number, number>();
      const kinds = [
        () => fetch(`${server.url}/functions/v1/verify-key`, { headers: { "x-api-key": key } }),
        () => fetch(`${server.url}/functions/v1/jobs?limit=5`, { headers: { "x-api-key": key } }),
        () =>
          fetch(`${server.url}/functions/v1/jobs`, {
            method: "POST",
            headers: { "x-api-key": key, "content-type": "application/json" },
            body: JSON.stringify({ type: "pooler.load" }),
          }),
      ];
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < requests) {
            const i = next++;
            const res = await kinds[i % kinds.length]();
            await res.arrayBuffer();
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          }
        }),
      );
      expect(Object.fromEntries(statuses)).toEqual({ 200: (requests / 3) * 2, 202: requests / 3 });
      const { rows } = await database.admin.query(
        "select count(*)::int as n from public.jobs where type = 'pooler.load'",
      );
      expect(rows[0].n).toBe(requests / 3);
      expect(server.output()).not.toMatch(/unhandled error|42P05|26000/);
    });

    it("answers 503 with Retry-After while the pooler has no server connection to give, and recovers by itself", async () => {
      // Two transactions left open hold both server connections of the pool.
      const holders = [new pg.Client({ connectionString: pooledUrl }), new pg.Client({ connectionString: pooledUrl })];
      await Promise.all(
        holders.map(async (c) => {
          await c.connect();
          await c.query("begin");
          await c.query("select 1");
        }),
      );
      const unseen = generateApiKey("kg"); // well-formed: only the database can say it is unknown
      let during: Response;
      try {
        during = await fetch(`${server.url}/functions/v1/verify-key`, { headers: { "x-api-key": unseen } });
      } finally {
        await Promise.all(
          holders.map(async (c) => {
            await c.query("commit");
            await c.end();
          }),
        );
      }
      expect(during.status).toBe(503);
      expect(during.headers.get("retry-after")).toMatch(/^[1-5]$/);
      expect((await during.json()).error.code).toBe("service_unavailable");

      let after = await fetch(`${server.url}/functions/v1/verify-key`, { headers: { "x-api-key": key } });
      for (let i = 0; i < 20 && after.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 250));
        after = await fetch(`${server.url}/functions/v1/verify-key`, { headers: { "x-api-key": key } });
      }
      expect(after.status).toBe(200);
      expect((await fetch(`${server.url}/functions/v1/verify-key`, { headers: { "x-api-key": unseen } })).status).toBe(
        401,
      );
    });
  },
);
