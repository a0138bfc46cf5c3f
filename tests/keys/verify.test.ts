import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeygateError } from "../../functions/_shared/core/errors.ts";
import { flushToDatabase } from "../../functions/_shared/counters/flush-to-database.ts";
import { SharedCounters } from "../../functions/_shared/counters/shared-counters.ts";
import type { Db } from "../../functions/_shared/db/db.ts";
import { generateApiKey } from "../../functions/_shared/keys/format.ts";
import { createKeyVerifier } from "../../functions/_shared/keys/verify.ts";
import { until } from "../helpers/call.ts";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";
import { fakeClock } from "../helpers/fake-clock.ts";
import { insertKey } from "../helpers/keys.ts";
import { countingDb, TOUCH_SQL, VERIFY_SQL } from "./helpers.ts";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});

const lastUsed = async (id: string) =>
  (await t.admin.query("select last_used_at from public.api_keys where id = $1", [id])).rows[0]
    .last_used_at as Date | null;

describe("createKeyVerifier", () => {
  it("returns the owner, key and scopes of a live key", async () => {
    const user = await createUser(t.admin);
    const { id, key } = await insertKey(t.admin, user.id, { scopes: ["jobs:read"] });
    const verifier = createKeyVerifier({ db: t.db, prefix: "kg" });
    expect(await verifier.verify(key)).toEqual({
      keyId: id,
      owner: { type: "user", id: user.id },
      userId: user.id,
      orgId: null,
      createdBy: user.id,
      scopes: ["jobs:read"],
      expiresAt: null,
    });
  });

  it("bounds the stored scopes by the owner's role, in their stored order, and follows a role change", async () => {
    const user = await createUser(t.admin, { role: "viewer" });
    const { key } = await insertKey(t.admin, user.id, { scopes: ["jobs:write", "jobs:read", "x:admin", "a:read"] });
    const verifier = createKeyVerifier({ db: t.db, prefix: "kg", cacheTtlMs: 0 });
    expect((await verifier.verify(key))?.scopes).toEqual(["jobs:read", "a:read"]);
    await t.admin.query("update public.users set role = 'member' where id = $1", [user.id]);
    expect((await verifier.verify(key))?.scopes).toEqual(["jobs:write", "jobs:read", "a:read"]);
    await t.admin.query("update public.users set role = 'admin' where id = $1", [user.id]);
    expect((await verifier.verify(key))?.scopes).toEqual(["jobs:write", "jobs:read", "x:admin", "a:read"]);
    // The key itself is never rewritten.
    const { rows } = await t.admin.query("select scopes from public.api_keys where user_id = $1", [user.id]);
    expect(rows).toEqual([{ scopes: ["jobs:write", "jobs:read", "x:admin", "a:read"] }]);
  });

  it("refuses a malformed key without touching the database", async () => {
    const db = countingDb(t.db);
    const verifier = createKeyVerifier({ db, prefix: "kg" });
    const key = generateApiKey("kg");
    for (const bad of [
      null,
      "",
      "kg_short",
      key.slice(0, -1) + (key.endsWith("a") ? "b" : "a"),
      key.replace("kg_", "kx_"),
    ]) {
      expect(await verifier.verify(bad)).toBeNull();
    }
    expect(db.calls).toEqual([]);
  });

  it("answers a malformed key and a cache hit synchronously, and reads only on a miss", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    const db = countingDb(t.db);
    const verifier = createKeyVerifier({ db, prefix: "kg" });
    expect(verifier.verify("kg_short")).toBeNull();
    const miss = verifier.verify(key);
    expect(miss).toBeInstanceOf(Promise);
    const first = await miss;
    expect(first?.userId).toBe(user.id);
    const hit = verifier.verify(key);
    expect(hit).not.toBeInstanceOf(Promise);
    expect(hit).toBe(first); // the cached, frozen object
    // One read, and the first use's last_used_at write; the hit added neither.
    expect(db.calls).toEqual([VERIFY_SQL, TOUCH_SQL]);
  });

  it("refuses a well-formed unknown key with exactly one read", async () => {
    const db = countingDb(t.db);
    const verifier = createKeyVerifier({ db, prefix: "kg" });
    expect(await verifier.verify(generateApiKey("kg"))).toBeNull();
    expect(db.calls).toEqual([VERIFY_SQL]);
  });

  it("refuses expired keys and keys past their rotation grace", async () => {
    const user = await createUser(t.admin);
    const expired = await insertKey(t.admin, user.id, { expiresAt: new Date(Date.now() + 60_000) });
    const graced = await insertKey(t.admin, user.id);
    await t.admin.query("update public.api_keys set expires_at = now() - interval '1 second' where id = $1", [
      expired.id,
    ]);
    await t.admin.query("update public.api_keys set revoked_at = now() - interval '1 second' where id = $1", [
      graced.id,
    ]);
    const verifier = createKeyVerifier({ db: t.db, prefix: "kg", cacheTtlMs: 0 });
    expect(await verifier.verify(expired.key)).toBeNull();
    expect(await verifier.verify(graced.key)).toBeNull();
  });

  it("serves a revoked key from cache for at most the TTL, then refuses it", async () => {
    const user = await createUser(t.admin);
    const { id, key } = await insertKey(t.admin, user.id);
    const c = fakeClock();
    const db = countingDb(t.db);
    const verifier = createKeyVerifier({ db, prefix: "kg", now: c.now, cacheTtlMs: 5000 });
    expect(await verifier.verify(key)).not.toBeNull();
    await t.admin.query("update public.api_keys set revoked_at = now() where id = $1", [id]);
    c.advance(4999);
    expect(await verifier.verify(key)).not.toBeNull(); // still cached: the stated bound
    c.advance(1);
    expect(await verifier.verify(key)).toBeNull();
    expect(db.calls.filter((n) => n === VERIFY_SQL)).toHaveLength(2);
  });

  it("refuses a deactivated owner's key once the cache entry ends", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    const c = fakeClock();
    const verifier = createKeyVerifier({ db: t.db, prefix: "kg", now: c.now, cacheTtlMs: 2000 });
    expect(await verifier.verify(key)).not.toBeNull();
    await t.admin.query("update public.users set is_active = false where id = $1", [user.id]);
    c.advance(2000);
    expect(await verifier.verify(key)).toBeNull();
  });

  it("never caches a key past the end of its grace period", async () => {
    const user = await createUser(t.admin);
    const { id, key } = await insertKey(t.admin, user.id);
    await t.admin.query("update public.api_keys set revoked_at = now() + interval '1 second' where id = $1", [id]);
    const verifier = createKeyVerifier({ db: t.db, prefix: "kg", cacheTtlMs: 10_000 });
    expect(await verifier.verify(key)).not.toBeNull();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await verifier.verify(key)).toBeNull();
  });

  it("with the cache off, refuses a revoked key at once", async () => {
    const user = await createUser(t.admin);
    const { id, key } = await insertKey(t.admin, user.id);
    const verifier = createKeyVerifier({ db: t.db, prefix: "kg", cacheTtlMs: 0 });
    expect(await verifier.verify(key)).not.toBeNull();
    await t.admin.query("update public.api_keys set revoked_at = now() where id = $1", [id]);
    expect(await verifier.verify(key)).toBeNull();
  });

  it("records use once a minute, off the response path, and then only reads", async () => {
    const user = await createUser(t.admin);
    const { id, key } = await insertKey(t.admin, user.id);
    const c = fakeClock();
    const db = countingDb(t.db);
    const verifier = createKeyVerifier({ db, prefix: "kg", now: c.now, cacheTtlMs: 0 });
    await verifier.verify(key);
    const first = await until(
      () => lastUsed(id),
      (v) => v !== null,
      2000,
    );
    expect(first).not.toBeNull();
    for (let i = 0; i < 20; i++) await verifier.verify(key);
    c.advance(30_000);
    await verifier.verify(key);
    expect(db.calls.filter((n) => n === TOUCH_SQL)).toHaveLength(1);
    expect(db.calls.filter((n) => n === VERIFY_SQL)).toHaveLength(22);
    expect(await lastUsed(id)).toEqual(first);
    c.advance(31_000);
    await t.admin.query("update public.api_keys set last_used_at = now() - interval '2 minutes' where id = $1", [id]);
    await verifier.verify(key);
    expect(db.calls.filter((n) => n === TOUCH_SQL)).toHaveLength(2);
  });

  it("answers even when recording use fails, and logs no key", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    const logs: unknown[] = [];
    const failingTouch = {
      query: (text: string, values?: unknown[]) =>
        text === TOUCH_SQL
          ? Promise.reject(Object.assign(new Error("boom"), { code: "XX000" }))
          : t.db.query(text, values),
      end: async () => {},
    };
    const verifier = createKeyVerifier({ db: failingTouch as never, prefix: "kg", log: (m, f) => logs.push([m, f]) });
    expect(await verifier.verify(key)).not.toBeNull();
    await new Promise((r) => setTimeout(r, 20));
    expect(logs).toHaveLength(1);
    expect(JSON.stringify(logs)).not.toContain(key);
  });
});

/** A database whose verification replies arrive `delayMs` after the row was read (on the test's clock). */
function slowReplies(db: Db, advance: (ms: number) => void, delayMs: number): Db {
  return {
    async query(text, values) {
      const rows = await db.query(text, values);
      if (text === VERIFY_SQL) advance(delayMs);
      return rows as never;
    },
    end: () => db.end(),
  };
}

/** The start of the next minute: a fake clock there keeps a test inside one window of the failure limit. */
const nextMinute = () => Math.floor(Date.now() / 60_000) * 60_000 + 60_000;

const from = (address: string) =>
  new Request("http://127.0.0.1/verify-key", { headers: { "cf-connecting-ip": address } });

describe("the revocation bound under a slow database", () => {
  it("does not cache a reply older than the TTL (a key revoked during an 8 s reply is refused next time)", async () => {
    const user = await createUser(t.admin);
    const { id, key } = await insertKey(t.admin, user.id);
    const c = fakeClock();
    const db = countingDb(slowReplies(t.db, c.advance, 8000));
    const verifier = createKeyVerifier({ db, prefix: "kg", now: c.now, cacheTtlMs: 5000 });
    expect(await verifier.verify(key)).not.toBeNull(); // read at 0, answered at 8 s
    await t.admin.query("update public.api_keys set revoked_at = now() where id = $1", [id]);
    c.advance(3000); // 11 s after the read
    expect(await verifier.verify(key)).toBeNull();
    expect(db.calls.filter((n) => n === VERIFY_SQL)).toHaveLength(2);
  });

  it("counts an entry's lifetime from before the read, not from the reply", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    const c = fakeClock();
    const db = countingDb(slowReplies(t.db, c.advance, 3000));
    const verifier = createKeyVerifier({ db, prefix: "kg", now: c.now, cacheTtlMs: 5000 });
    await verifier.verify(key); // read at 0, answered at 3 s
    c.advance(1999);
    expect(verifier.verify(key)).not.toBeInstanceOf(Promise); // 4.999 s after the read: cached
    c.advance(1);
    expect(verifier.verify(key)).toBeInstanceOf(Promise); // 5 s after the read: read again
  });
});

describe("keys found not live", () => {
  it("answers a repeated unknown key without a read for the TTL, then reads again", async () => {
    const c = fakeClock();
    const db = countingDb(t.db);
    const verifier = createKeyVerifier({ db, prefix: "kg", now: c.now, cacheTtlMs: 5000 });
    const unknown = generateApiKey("kg");
    expect(await verifier.verify(unknown)).toBeNull();
    c.advance(4999);
    expect(verifier.verify(unknown)).toBeNull(); // synchronous: no read
    c.advance(1);
    expect(await verifier.verify(unknown)).toBeNull();
    expect(db.calls).toEqual([VERIFY_SQL, VERIFY_SQL]);
  });

  it("lets a reactivated owner's key work again within the same bound", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    await t.admin.query("update public.users set is_active = false where id = $1", [user.id]);
    const c = fakeClock();
    const verifier = createKeyVerifier({ db: t.db, prefix: "kg", now: c.now, cacheTtlMs: 2000 });
    expect(await verifier.verify(key)).toBeNull();
    await t.admin.query("update public.users set is_active = true where id = $1", [user.id]);
    c.advance(2000);
    expect(await verifier.verify(key)).not.toBeNull();
  });

  it("shares one read among concurrent verifications of one key", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    const db = countingDb(t.db);
    const verifier = createKeyVerifier({ db, prefix: "kg", cacheTtlMs: 0 });
    const unknown = generateApiKey("kg");
    const answers = await Promise.all([...Array(8)].flatMap(() => [verifier.verify(key), verifier.verify(unknown)]));
    expect(answers.filter((a) => a !== null)).toHaveLength(8);
    expect(db.calls.filter((n) => n === VERIFY_SQL)).toHaveLength(2);
  });

  it("caches nothing with the cache off", async () => {
    const db = countingDb(t.db);
    const verifier = createKeyVerifier({ db, prefix: "kg", cacheTtlMs: 0 });
    const unknown = generateApiKey("kg");
    await verifier.verify(unknown);
    await verifier.verify(unknown);
    expect(db.calls).toHaveLength(2);
  });
});

describe("the per-client limit on failed verifications", () => {
  function refusal(run: () => unknown): KeygateError {
    try {
      run();
    } catch (err) {
      if (err instanceof KeygateError) return err;
      throw err;
    }
    throw new Error("not refused");
  }

  it("refuses a client past its limit with 429 and Retry-After until the minute ends, before any read", async () => {
    const c = fakeClock(nextMinute() + 30_000);
    const db = countingDb(t.db);
    const counters = new SharedCounters({ flush: flushToDatabase(t.db), now: c.now });
    const verifier = createKeyVerifier({ db, prefix: "kg", now: c.now, failuresPerMinute: 2, counters });
    for (let i = 0; i < 2; i++) {
      expect(await verifier.verify(generateApiKey("kg"), from("198.51.100.1"))).toBeNull();
      await counters.flush();
    }
    const err = refusal(() => verifier.verify(generateApiKey("kg"), from("198.51.100.1")));
    expect([err.status, err.code, err.headers["retry-after"]]).toEqual([429, "rate_limited", "30"]);
    expect(db.calls).toEqual([VERIFY_SQL, VERIFY_SQL]);
    c.advance(30_000);
    expect(await verifier.verify(generateApiKey("kg"), from("198.51.100.1"))).toBeNull();
  });

  it("admits at most its share of a client's failures between two flush answers, then waits for the next", async () => {
    const c = fakeClock(nextMinute());
    // Flushes are held until the test lets them through: no cluster total arrives meanwhile.
    let open: () => void = () => {};
    let gate = new Promise<void>((r) => (open = r));
    const toDatabase = flushToDatabase(t.db);
    const counters = new SharedCounters({
      flush: async (increments) => {
        await gate;
        return await toDatabase(increments);
      },
      now: c.now,
    });
    const verifier = createKeyVerifier({ db: t.db, prefix: "kg", now: c.now, failuresPerMinute: 20, counters });
    for (let i = 0; i < 2; i++) expect(await verifier.verify(generateApiKey("kg"), from("198.51.100.8"))).toBeNull();
    let settled = false;
    const third = Promise.resolve(verifier.verify(generateApiKey("kg"), from("198.51.100.8"))).finally(
      () => (settled = true),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    open();
    gate = Promise.resolve();
    expect(await third).toBeNull();
  });

  it("makes reads a client fires at once wait for its reads under way instead of overshooting", async () => {
    const user = await createUser(t.admin);
    const valid = await Promise.all(Array.from({ length: 6 }, () => insertKey(t.admin, user.id)));
    let running = 0;
    let most = 0;
    const slow: Db = {
      async query(text, values) {
        if (text !== VERIFY_SQL) return await t.db.query(text, values);
        running += 1;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 20));
        running -= 1;
        return await t.db.query(text, values);
      },
      end: async () => {},
    };
    const c = fakeClock(nextMinute());
    const counters = new SharedCounters({ flush: flushToDatabase(t.db), now: c.now });
    const verifier = createKeyVerifier({ db: slow, prefix: "kg", now: c.now, failuresPerMinute: 20, counters });
    // Keys that exist, at once: every one is answered, two reads at a time (the share of 20).
    const found = await Promise.all(valid.map(({ key }) => verifier.verify(key, from("198.51.100.9"))));
    expect(found.every((k) => k?.userId === user.id)).toBe(true);
    expect(most).toBe(2);
    // Keys that do not exist, at once, under the limit: two reads at a time (past the share they
    // wait for the cluster's total), every one answered, none refused.
    most = 0;
    const answers = await Promise.allSettled(
      Array.from({ length: 10 }, () => verifier.verify(generateApiKey("kg"), from("198.51.100.10"))),
    );
    expect(answers.map((a) => a.status === "fulfilled" && a.value)).toEqual(Array(10).fill(null));
    expect(most).toBeLessThanOrEqual(2);
    // Past the limit: refused, 429.
    const over = await Promise.allSettled(
      Array.from({ length: 12 }, () => verifier.verify(generateApiKey("kg"), from("198.51.100.10"))),
    );
    const refused = over.filter((a): a is PromiseRejectedResult => a.status === "rejected");
    expect(over.length - refused.length).toBe(10);
    expect(new Set(refused.map((a) => a.reason.code))).toEqual(new Set(["rate_limited"]));
  });

  it("answers a batch of valid keys a client sends at once, however large, by making the reads wait their turn", async () => {
    // Six owners of 25 keys each (the cap of active keys).
    const owners = await Promise.all(Array.from({ length: 6 }, () => createUser(t.admin)));
    const keys = (
      await Promise.all(owners.map((o) => Promise.all(Array.from({ length: 25 }, () => insertKey(t.admin, o.id)))))
    ).flat();
    const verifier = createKeyVerifier({ db: t.db, prefix: "kg" }); // 60 a minute: 6 reads at a time
    const found = await Promise.all(keys.map(({ key }) => verifier.verify(key, from("198.51.100.11"))));
    expect(found.filter((k) => k !== null)).toHaveLength(150);
  });

  it("holds the limit on its own counts while the counters cannot be flushed, and refuses no earlier", async () => {
    const c = fakeClock(nextMinute());
    const logs: string[] = [];
    const noFlush: Db = {
      query: (text, values) =>
        text.includes("add_to_shared_counters")
          ? Promise.reject(new KeygateError("service_unavailable", "down"))
          : t.db.query(text, values),
      end: async () => {},
    };
    const counters = new SharedCounters({ flush: flushToDatabase(noFlush), now: c.now, log: (m) => logs.push(m) });
    const verifier = createKeyVerifier({ db: noFlush, prefix: "kg", now: c.now, failuresPerMinute: 3, counters });
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      try {
        outcomes.push(String(await verifier.verify(generateApiKey("kg"), from("198.51.100.12"))));
      } catch (err) {
        outcomes.push((err as KeygateError).code);
      }
      await counters.flush();
    }
    expect(outcomes).toEqual(["null", "null", "null", "rate_limited", "rate_limited"]);
    expect(logs).toHaveLength(1);
  });

  it("never gives a client a fresh budget, however many other addresses churn through", async () => {
    const c = fakeClock(nextMinute());
    let reads = 0;
    const empty: Db = {
      query: async (text) => {
        if (text === VERIFY_SQL) reads += 1;
        return [];
      },
      end: async () => {},
    };
    const verifier = createKeyVerifier({ db: empty, prefix: "kg", now: c.now, failuresPerMinute: 1, cacheTtlMs: 0 });
    const attempt = async (address: string) => {
      try {
        return await verifier.verify(generateApiKey("kg"), from(address));
      } catch (err) {
        return (err as KeygateError).code;
      }
    };
    expect(await attempt("203.0.113.1")).toBeNull();
    expect(await attempt("203.0.113.1")).toBe("rate_limited");
    // More addresses than the limiter holds, each with one failure.
    for (let i = 0; i < 10_050; i++) await attempt(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(await attempt("203.0.113.1")).toBe("rate_limited");
    // Those it could not hold shared one budget: one read among the last fifty, and not one each.
    expect(reads).toBeLessThanOrEqual(1 + 10_000 + 1);
  });

  it("leaves other clients alone, and serves the limited client's keys that need no read", async () => {
    const user = await createUser(t.admin);
    const cached = await insertKey(t.admin, user.id);
    const fresh = await insertKey(t.admin, user.id);
    const verifier = createKeyVerifier({ db: t.db, prefix: "kg", failuresPerMinute: 1 });
    const repeated = generateApiKey("kg");
    expect(await verifier.verify(cached.key, from("203.0.113.5"))).not.toBeNull();
    expect(await verifier.verify(repeated, from("198.51.100.2"))).toBeNull();
    // Limited now: a read is refused, even for a valid key...
    expect(refusal(() => verifier.verify(fresh.key, from("198.51.100.2"))).status).toBe(429);
    // ...but a key already in either cache costs nothing and is answered.
    expect(await verifier.verify(cached.key, from("198.51.100.2"))).not.toBeNull();
    expect(verifier.verify(repeated, from("198.51.100.2"))).toBeNull();
    // Another client's valid key is unaffected.
    expect(await verifier.verify(fresh.key, from("203.0.113.5"))).not.toBeNull();
  });

  it("does not spend a client's budget on valid keys or on our own outage", async () => {
    const user = await createUser(t.admin);
    const keys = await Promise.all([0, 1, 2].map(() => insertKey(t.admin, user.id)));
    const down: Db = {
      query: () => Promise.reject(new KeygateError("service_unavailable", "down")),
      end: async () => {},
    };
    const verifier = createKeyVerifier({ db: t.db, prefix: "kg", failuresPerMinute: 1, cacheTtlMs: 0 });
    for (const { key } of keys) expect(await verifier.verify(key, from("198.51.100.3"))).not.toBeNull();
    const failing = createKeyVerifier({ db: down, prefix: "kg", failuresPerMinute: 1 });
    for (let i = 0; i < 3; i++)
      await expect(failing.verify(generateApiKey("kg"), from("198.51.100.3"))).rejects.toMatchObject({ status: 503 });
  });
});

describe("recording use after the response", () => {
  it("hands the last_used_at write to the runtime's waitUntil", async () => {
    const user = await createUser(t.admin);
    const { id, key } = await insertKey(t.admin, user.id);
    const handed: Promise<unknown>[] = [];
    const verifier = createKeyVerifier({ db: t.db, prefix: "kg", waitUntil: (task) => void handed.push(task) });
    expect(await verifier.verify(key)).not.toBeNull();
    expect(handed).toHaveLength(1);
    await handed[0];
    expect(await lastUsed(id)).not.toBeNull();
  });
});
