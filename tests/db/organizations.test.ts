/**
 * The last-owner guard of keygate.change_member_role and keygate.remove_member
 * under concurrency: the two owners of one organization demoting themselves,
 * or leaving, in two sessions at the same moment. Each function locks the
 * organization's row first, so the second waits for the first to commit and
 * then refuses with KG010: the organization keeps an owner.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

/** An organization with two owners; its id and theirs. */
async function twoOwners(): Promise<{ org: string; owners: [string, string] }> {
  const first = await createUser(database.admin);
  const second = await createUser(database.admin);
  const slug = `two-owners-${randomUUID().slice(0, 8)}`;
  const { rows } = await database.admin.query<{ id: string }>(
    "select id from keygate.create_organization($1, 'Two owners', $2)",
    [first.id, slug],
  );
  const org = rows[0].id;
  await database.admin.query(
    "insert into public.organization_members (org_id, user_id, role, added_by) values ($1, $2, 'owner', $3)",
    [org, second.id, first.id],
  );
  return { org, owners: [first.id, second.id] };
}

type Settled = { index: number; ok: true } | { index: number; ok: false; code: string | undefined };

/** True once the backend `pid` waits for a lock (bounded: about 5 s). */
async function waitsForLock(pid: number): Promise<boolean> {
  for (let attempt = 0; attempt < 250; attempt++) {
    const { rows } = await database.admin.query("select wait_event_type from pg_stat_activity where pid = $1", [pid]);
    if (rows[0]?.wait_event_type === "Lock") return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/**
 * Runs each statement in its own session and transaction, both sent at once;
 * commits the one that finishes first while the other waits for its lock,
 * then ends the other (commit if it succeeded). Returns both outcomes in the
 * order they settled, and whether the second was seen waiting.
 */
async function concurrently(statements: [string, unknown[]][]): Promise<{ settled: Settled[]; waited: boolean }> {
  const clients = statements.map(() => new pg.Client({ connectionString: database.directUrl }));
  try {
    const pids: number[] = [];
    for (const client of clients) {
      await client.connect();
      const { rows } = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
      pids.push(rows[0].pid);
      await client.query("begin");
    }
    const pending = statements.map(([text, values], index) =>
      clients[index].query(text, values).then(
        (): Settled => ({ index, ok: true }),
        (err: { code?: string }): Settled => ({ index, ok: false, code: err.code }),
      ),
    );
    const first = await Promise.race(pending);
    const other = 1 - first.index;
    const waited = await waitsForLock(pids[other]);
    await clients[first.index].query(first.ok ? "commit" : "rollback");
    const second = await pending[other];
    await clients[other].query(second.ok ? "commit" : "rollback");
    return { settled: [first, second], waited };
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => {})));
  }
}

async function ownersOf(org: string): Promise<string[]> {
  const { rows } = await database.admin.query<{ user_id: string }>(
    "select user_id from public.organization_members where org_id = $1 and role = 'owner'",
    [org],
  );
  return rows.map((r) => r.user_id);
}

describe("the last-owner guard under concurrency", () => {
  it("lets one of two owners demoting themselves at once succeed, and refuses the other with KG010", async () => {
    const { org, owners } = await twoOwners();
    const demote = "select keygate.change_member_role($1, $2, $1, 'admin')";
    const { settled, waited } = await concurrently([
      [demote, [owners[0], org]],
      [demote, [owners[1], org]],
    ]);
    expect(waited).toBe(true);
    expect(settled.map((s) => s.ok)).toEqual([true, false]);
    expect(settled[1]).toMatchObject({ ok: false, code: "KG010" });
    expect(await ownersOf(org)).toEqual([owners[settled[1].index]]);
  });

  it("lets one of two owners leaving at once go, and keeps the other as owner with KG010", async () => {
    const { org, owners } = await twoOwners();
    const leave = "select keygate.remove_member($1, $2, $1)";
    const { settled, waited } = await concurrently([
      [leave, [owners[0], org]],
      [leave, [owners[1], org]],
    ]);
    expect(waited).toBe(true);
    expect(settled.map((s) => s.ok)).toEqual([true, false]);
    expect(settled[1]).toMatchObject({ ok: false, code: "KG010" });
    expect(await ownersOf(org)).toEqual([owners[settled[1].index]]);
    const { rows } = await database.admin.query<{ n: number }>(
      "select count(*)::int as n from public.audit_events where org_id = $1 and action = 'org.member_left'",
      [org],
    );
    expect(rows[0].n).toBe(1);
  });
});
