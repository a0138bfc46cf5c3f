/**
 * The per-client limit on failed key verifications, through the real Deno
 * server: the local server vouches for the TCP peer (as the platform's
 * gateway does on Supabase), so two loopback addresses are two clients, and
 * a header a client sends itself changes nothing. With three server
 * processes on one database (three isolates), the limit holds for the
 * cluster, not for each process, and the counts reach the database in
 * batches, not a write per request.
 */
import http from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generateApiKey } from "../../functions/_shared/keys/format.ts";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";
import { insertKey } from "../helpers/keys.ts";
import { inFreshWindow } from "../helpers/limit-window.ts";
import { roomInThisMinute } from "../helpers/minute-window.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: { valid: boolean; error?: unknown };
}

/** GET verify-key from a chosen loopback source address (Linux routes all of 127.0.0.0/8 to lo). */
function verifyAt(base: string, localAddress: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/functions/v1/verify-key`, { localAddress, headers, agent: false }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end();
  });
}

// Each test spends a per-minute budget: it must not straddle the minute.
beforeEach(() => inFreshWindow());

describe("failed verifications per client", () => {
  const LIMIT = 3;
  let t: TestDatabase;
  let server: RunningServer;

  beforeAll(async () => {
    t = await createTestDatabase();
    server = await startServer({ databaseUrl: t.url, env: { API_KEY_FAILURES_PER_MINUTE: String(LIMIT) } });
  });
  afterAll(async () => {
    await server?.stop();
    await t?.drop();
  });

  it("answers 429 with Retry-After past the limit, whatever address the client claims, and leaves other clients alone", async () => {
    await roomInThisMinute(20_000);
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    const forged = { "cf-connecting-ip": "192.0.2.99", "x-forwarded-for": "192.0.2.98" };
    // A client that waits as told: the process admits a share of the limit between two
    // flushes of its counts, so it may ask to come back in a second or two before the limit.
    let failed = 0;
    for (let i = 0; i < 20 && failed < LIMIT; i++) {
      const res = await verifyAt(server.url, "127.0.0.1", { "x-api-key": generateApiKey("kg"), ...forged });
      if (res.status === 401) failed++;
      else {
        expect(res.status).toBe(429);
        await sleep(Number(res.headers["retry-after"]) * 1000);
      }
    }
    expect(failed).toBe(LIMIT);
    const limited = await verifyAt(server.url, "127.0.0.1", {
      "x-api-key": generateApiKey("kg"),
      "cf-connecting-ip": "192.0.2.97",
    });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(limited.body).toEqual({ valid: false, error: { code: "rate_limited", message: expect.any(String) } });
    // A valid key the server has not seen needs a read: refused for this client too, until the budget refills.
    expect((await verifyAt(server.url, "127.0.0.1", { "x-api-key": key })).status).toBe(429);

    const other = await verifyAt(server.url, "127.0.0.2", { "x-api-key": key });
    expect(other.status).toBe(200);
    expect(other.body.valid).toBe(true);
    expect((await verifyAt(server.url, "127.0.0.2", { "x-api-key": generateApiKey("kg") })).status).toBe(401);
    // Now cached: answered for the limited client too, with no read.
    expect((await verifyAt(server.url, "127.0.0.1", { "x-api-key": key })).status).toBe(200);
  }, 60_000);
});

describe("failed verifications per client across three server processes", () => {
  // Share 1 (a tenth, at least one): the cluster admits at most LIMIT - 1 + 3 x 1 = 8
  // a minute; a limit per process would admit 3 x 6 = 18.
  const LIMIT = 6;
  const PROCESSES = 3;
  const BOUND = LIMIT - 1 + PROCESSES * 1;
  const FLOOD_MS = 8000;
  let t: TestDatabase;
  const servers: RunningServer[] = [];

  beforeAll(async () => {
    t = await createTestDatabase();
    // Counts every statement and row written to the counters (the test's own instrument, not Keygate's).
    await t.admin.query(`
      create schema kg_probe;
      create sequence kg_probe.statements;
      create sequence kg_probe.rows;
      create function kg_probe.statement() returns trigger language plpgsql as $$
        begin perform nextval('kg_probe.statements'); return null; end $$;
      create function kg_probe.row() returns trigger language plpgsql as $$
        begin perform nextval('kg_probe.rows'); return null; end $$;
      create trigger probe_statements after insert on public.shared_counters
        for each statement execute function kg_probe.statement();
      create trigger probe_rows after insert or update on public.shared_counters
        for each row execute function kg_probe.row();`);
    const env = { API_KEY_FAILURES_PER_MINUTE: String(LIMIT) };
    servers.push(
      ...(await Promise.all(Array.from({ length: PROCESSES }, () => startServer({ databaseUrl: t.url, env })))),
    );
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await t?.drop();
  });

  /** Statements and rows written to public.shared_counters so far. */
  async function writes(): Promise<{ statements: number; rows: number }> {
    const { rows } = await t.admin.query(`
      select (select case when is_called then last_value else 0 end from kg_probe.statements)::int as statements,
             (select case when is_called then last_value else 0 end from kg_probe.rows)::int as rows`);
    return rows[0];
  }

  it("admits the limit once for the cluster, not once per process, flushing counts in batches", async () => {
    await roomInThisMinute(FLOOD_MS + 10_000);
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    const statuses = new Map<number, number>();
    const wrong: string[] = [];
    let requests = 0;
    const started = Date.now();
    // Two requests at a time to each process, from one client, forged keys only.
    while (Date.now() - started < FLOOD_MS) {
      const answers = await Promise.all(
        servers.flatMap((s) => [0, 1].map(() => verifyAt(s.url, "127.0.0.1", { "x-api-key": generateApiKey("kg") }))),
      );
      for (const a of answers) {
        requests++;
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        if (a.status === 429 && !(Number(a.headers["retry-after"]) >= 1)) wrong.push("429 without Retry-After");
        if (a.status !== 401 && a.status !== 429) wrong.push(`${a.status}`);
      }
      await sleep(20);
    }
    const elapsed = Date.now() - started;
    expect(wrong).toEqual([]);
    const admitted = statuses.get(401) ?? 0;
    expect(admitted).toBeGreaterThanOrEqual(LIMIT);
    expect(admitted).toBeLessThanOrEqual(BOUND);

    // Every process says the same to this client now, and serves another.
    for (const s of servers) {
      expect((await verifyAt(s.url, "127.0.0.1", { "x-api-key": generateApiKey("kg") })).status).toBe(429);
      expect((await verifyAt(s.url, "127.0.0.2", { "x-api-key": key })).status).toBe(200);
    }

    // Batched: at most one flush per process per interval (2 s) while it had counts, one row
    // each (one client), against hundreds of requests.
    await sleep(2500);
    const written = await writes();
    const flushRounds = Math.ceil(elapsed / 2000) + 2;
    expect(written.statements).toBeGreaterThan(0);
    expect(written.statements).toBeLessThanOrEqual(PROCESSES * flushRounds);
    expect(written.rows).toBe(written.statements);
    expect(requests).toBeGreaterThan(10 * written.statements);
  }, 60_000);
});
