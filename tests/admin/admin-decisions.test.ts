/**
 * Admin changes are decided under the lock of the rows they depend on, by
 * the SQL functions that make them (through the real Deno server, with real
 * concurrency: another transaction holds a row on its own connection while a
 * request waits for it). Whatever the interleaving, an actor never changes
 * an admin without capabilities.grant, and never uses a capability after its
 * removal was committed.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, until } from "../helpers/call.ts";
import { insertKey } from "../helpers/keys.ts";
import { asUser, createSession, createSignedInUser, type SignedInUser } from "../helpers/session.ts";
import { useStack } from "../helpers/stack.ts";

let admin: SignedInUser;
const clients: pg.Client[] = [];

const stack = useStack();
beforeAll(async () => {
  admin = await createSignedInUser(stack.admin, { role: "admin" });
});
afterAll(async () => {
  for (const client of clients) await client.end().catch(() => {});
});

const as = (user: SignedInUser, path: string, init: RequestInit & { json?: unknown } = {}) =>
  call(stack.url, path, asUser(user, stack.url, init));

/** A transaction of its own, on its own connection (never through the pooler): another request in flight. */
async function otherTransaction(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: stack.database.directUrl });
  clients.push(client);
  await client.connect();
  await client.query("begin");
  return client;
}

/** How many of this database's backends wait for a lock now. */
async function lockWaiters(): Promise<number> {
  const { rows } = await stack.admin.query<{ n: number }>(
    "select count(*)::integer as n from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'",
    [stack.database.name],
  );
  return rows[0].n;
}

/** Resolves once `n` backends wait for a lock (or once `settled()`), failing after a bounded wait. */
async function untilWaiting(n: number, settled: () => boolean = () => false): Promise<void> {
  const seen = await until(lockWaiters, (count) => count >= n || settled(), 10_000);
  if (seen < n && !settled()) throw new Error(`expected ${n} request(s) waiting for a lock, saw ${seen}`);
}

/**
 * A signed-in user whose id sorts first ("0") or last ("f") among the test's
 * users, so a test can put the actor's row before or after the target's in
 * the order the functions lock them.
 */
async function userSorting(
  end: "0" | "f",
  { role = "member", capabilities = [] as string[] } = {},
): Promise<SignedInUser> {
  const id = `${end.repeat(8)}${crypto.randomUUID().slice(8)}`;
  const email = `${end}-${id.slice(-12)}@example.test`;
  await stack.admin.query("insert into public.users (id, email, role) values ($1, $2, $3)", [id, email, role]);
  for (const capability of capabilities) {
    await stack.admin.query("insert into public.user_capabilities (user_id, capability) values ($1, $2)", [
      id,
      capability,
    ]);
  }
  const token = await createSession(stack.admin, id);
  return { id, email, token, cookie: `kg_session=${token}` };
}

const userRow = async (id: string) =>
  (await stack.admin.query("select role, is_active from public.users where id = $1", [id])).rows[0];

/** Both orders of the actor's and the target's rows: [actor's end, target's end]. */
const ORDERS = [
  ["actor first", "0", "f"],
  ["target first", "f", "0"],
] as const;

describe("a target made admin while the change waited", () => {
  it.each(ORDERS)(
    "is not deactivated by an actor without capabilities.grant (%s)",
    async (_order, actorEnd, targetEnd) => {
      const manager = await userSorting(actorEnd, { capabilities: ["users.manage"] });
      const target = await userSorting(targetEnd);
      // Another admin promotes the target: their transaction holds the row, not yet committed.
      const promotion = await otherTransaction();
      await promotion.query("select keygate.admin_update_user($1, $2, 'admin', null)", [admin.id, target.id]);
      const deactivation = as(manager, `admin/users/${target.id}/deactivate`, { method: "POST" });
      await untilWaiting(1);
      await promotion.query("commit");

      const res = await deactivation;
      expect([res.status, res.body.error?.code, res.body.error?.message]).toEqual([
        403,
        "forbidden",
        "This needs the capability capabilities.grant.",
      ]);
      expect(await userRow(target.id)).toEqual({ role: "admin", is_active: true });
    },
  );

  it.each(ORDERS)("is not demoted by an actor without capabilities.grant (%s)", async (_order, actorEnd, targetEnd) => {
    const manager = await userSorting(actorEnd, { capabilities: ["users.manage"] });
    const target = await userSorting(targetEnd);
    const promotion = await otherTransaction();
    await promotion.query("select keygate.admin_update_user($1, $2, 'admin', null)", [admin.id, target.id]);
    const demotion = as(manager, `admin/users/${target.id}`, { method: "PATCH", json: { role: "viewer" } });
    await untilWaiting(1);
    await promotion.query("commit");

    const res = await demotion;
    expect([res.status, res.body.error?.message]).toEqual([403, "This needs the capability capabilities.grant."]);
    expect(await userRow(target.id)).toEqual({ role: "admin", is_active: true });
  });
});

describe("a capability removed while the change waited", () => {
  it.each(ORDERS)(
    "cannot be used to deactivate once the removal is committed (%s)",
    async (_o, actorEnd, targetEnd) => {
      const manager = await userSorting(actorEnd, { capabilities: ["users.manage"] });
      const target = await userSorting(targetEnd);
      // Something else holds the target's row (its sign-in, another admin's change): the deactivation waits.
      const holder = await otherTransaction();
      await holder.query("select 1 from public.users where id = $1 for update", [target.id]);
      const deactivation = as(manager, `admin/users/${target.id}/deactivate`, { method: "POST" });
      await untilWaiting(1);
      await stack.admin.query("delete from public.user_capabilities where user_id = $1", [manager.id]);
      await holder.query("commit");

      const res = await deactivation;
      expect([res.status, res.body.error?.message]).toEqual([403, "This needs the capability users.manage."]);
      expect(await userRow(target.id)).toEqual({ role: "member", is_active: true });
    },
  );

  it("cannot be used to revoke a key once the removal is committed", async () => {
    const revoker = await createSignedInUser(stack.admin, { capabilities: ["keys.revoke_any"] });
    const owner = await createSignedInUser(stack.admin);
    const { id: keyId } = await insertKey(stack.admin, owner.id);
    // The owner's own request holds the key's row: the revocation waits.
    const holder = await otherTransaction();
    await holder.query("select 1 from public.api_keys where id = $1 for update", [keyId]);
    const revocation = as(revoker, `admin/keys/${keyId}`, { method: "DELETE" });
    await untilWaiting(1);
    await stack.admin.query("delete from public.user_capabilities where user_id = $1", [revoker.id]);
    await holder.query("commit");

    const res = await revocation;
    expect([res.status, res.body.error?.message]).toEqual([403, "This needs the capability keys.revoke_any."]);
    const { rows } = await stack.admin.query("select revoked_at from public.api_keys where id = $1", [keyId]);
    expect(rows).toEqual([{ revoked_at: null }]);
  });

  it.each(ORDERS)(
    "is used before its removal through the API or not at all, never after (%s)",
    async (_order, actorEnd, targetEnd) => {
      const manager = await userSorting(actorEnd, { capabilities: ["users.manage"] });
      const target = await userSorting(targetEnd);
      const holder = await otherTransaction();
      await holder.query("select 1 from public.users where id = $1 for update", [target.id]);
      const deactivation = as(manager, `admin/users/${target.id}/deactivate`, { method: "POST" });
      await untilWaiting(1);
      // An admin takes the capability away at the same moment: it either waits for the deactivation or is answered first.
      let removed = false;
      const removal = as(admin, `admin/users/${manager.id}`, { method: "PATCH", json: { capabilities: [] } }).finally(
        () => {
          removed = true;
        },
      );
      await untilWaiting(2, () => removed);
      const answeredFirst = removed;
      await holder.query("commit");

      const [deactivated, removedRes] = await Promise.all([deactivation, removal]);
      expect(removedRes.status).toBe(200);
      const { rows } = await stack.admin.query<{ action: string }>(
        `select action from public.audit_events
          where (target_user_id = $1 and action = 'user.deactivated') or (target_user_id = $2 and action = 'user.capabilities_changed')
          order by id`,
        [target.id, manager.id],
      );
      if (deactivated.status === 200) {
        expect(answeredFirst).toBe(false);
        expect(rows.map((r) => r.action)).toEqual(["user.deactivated", "user.capabilities_changed"]);
      } else {
        expect([deactivated.status, deactivated.body.error?.message]).toEqual([
          403,
          "This needs the capability users.manage.",
        ]);
        expect(rows.map((r) => r.action)).toEqual(["user.capabilities_changed"]);
        expect(await userRow(target.id)).toEqual({ role: "member", is_active: true });
      }
    },
  );
});
