/**
 * keygate.create_session, get_session and end_session: stateful sessions
 * stored by token hash, sliding up to an absolute lifetime.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";

interface SessionUser {
  user_id: string;
  email: string;
  name: string | null;
  image_url: string | null;
  role: string;
  expires_at: Date;
}

const TTL = 3600;
const MAX_LIFETIME = 7 * 86400;

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

async function createSession(userId: string, ttl = TTL) {
  const hash = randomBytes(32);
  const [row] = await database.db.query<{ expires_at: Date }>(
    "select keygate.create_session($1, $2, $3) as expires_at",
    [userId, hash, ttl],
  );
  return { hash, expiresAt: row.expires_at };
}

async function getSession(hash: Buffer, ttl = TTL, maxLifetime = MAX_LIFETIME): Promise<SessionUser | undefined> {
  const rows = await database.db.query<SessionUser>("select * from keygate.get_session($1, $2, $3)", [
    hash,
    ttl,
    maxLifetime,
  ]);
  return rows[0];
}

const storedExpiry = async (hash: Buffer): Promise<Date> =>
  (await database.admin.query("select expires_at from public.sessions where token_hash = $1", [hash])).rows[0]
    .expires_at;

describe("keygate.create_session and get_session", () => {
  it("returns the session's user until it expires", async () => {
    const user = await createUser(database.admin, { name: "Sam" });
    const { hash, expiresAt } = await createSession(user.id);
    expect(Math.abs(expiresAt.getTime() - (Date.now() + TTL * 1000))).toBeLessThan(60_000);
    expect(await getSession(hash)).toEqual({
      user_id: user.id,
      email: user.email,
      name: "Sam",
      image_url: null,
      role: "member",
      expires_at: expiresAt,
    });
  });

  it("returns nothing for an unknown or expired token", async () => {
    const user = await createUser(database.admin);
    expect(await getSession(randomBytes(32))).toBeUndefined();
    const { hash } = await createSession(user.id);
    await database.admin.query(
      "update public.sessions set expires_at = now() - interval '1 second' where token_hash = $1",
      [hash],
    );
    expect(await getSession(hash)).toBeUndefined();
  });

  it("returns nothing once the user is inactive", async () => {
    const user = await createUser(database.admin);
    const { hash } = await createSession(user.id);
    await database.db.query("select keygate.set_user_active($1, false)", [user.id]);
    expect(await getSession(hash)).toBeUndefined();
  });

  it("slides the expiry at most once a minute", async () => {
    const user = await createUser(database.admin);
    const { hash, expiresAt } = await createSession(user.id);
    // Used again within the minute: no write.
    expect((await getSession(hash, TTL * 2))?.expires_at).toEqual(expiresAt);
    expect(await storedExpiry(hash)).toEqual(expiresAt);

    await database.admin.query(
      "update public.sessions set last_seen_at = now() - interval '2 minutes' where token_hash = $1",
      [hash],
    );
    const slid = (await getSession(hash, TTL * 2))!.expires_at;
    expect(slid.getTime()).toBeGreaterThan(expiresAt.getTime() + (TTL - 60) * 1000);
    expect(await storedExpiry(hash)).toEqual(slid);
  });

  it("never slides past the maximum lifetime after creation", async () => {
    const user = await createUser(database.admin);
    const { hash } = await createSession(user.id);
    const { rows } = await database.admin.query(
      `update public.sessions set created_at = now() - make_interval(secs => $2 - 600), last_seen_at = now() - interval '2 minutes'
        where token_hash = $1 returning created_at`,
      [hash, MAX_LIFETIME],
    );
    const session = await getSession(hash);
    expect(session?.expires_at.getTime()).toBe(rows[0].created_at.getTime() + MAX_LIFETIME * 1000);
  });
});

describe("the maximum session lifetime", () => {
  async function ageSession(hash: Buffer, createdSecondsAgo: number, lastSeenSecondsAgo: number): Promise<Date> {
    const { rows } = await database.admin.query(
      `update public.sessions set created_at = now() - make_interval(secs => $2), last_seen_at = now() - make_interval(secs => $3)
        where token_hash = $1 returning created_at`,
      [hash, createdSecondsAgo, lastSeenSecondsAgo],
    );
    return rows[0].created_at;
  }

  it("ends a session past it even when its stored expiry is later (the lifetime was shortened)", async () => {
    const user = await createUser(database.admin);
    const recent = await createSession(user.id, 86400);
    await ageSession(recent.hash, 7200, 10);
    expect(await getSession(recent.hash, TTL, 3600)).toBeUndefined();

    const stale = await createSession(user.id, 86400);
    await ageSession(stale.hash, 7200, 120);
    expect(await getSession(stale.hash, TTL, 3600)).toBeUndefined();
  });

  it("pulls a stored expiry beyond it back to the end of the lifetime", async () => {
    const user = await createUser(database.admin);
    const { hash } = await createSession(user.id, 86400);
    const createdAt = await ageSession(hash, 600, 10);
    const session = await getSession(hash, TTL, 1200);
    expect(session?.expires_at.getTime()).toBe(createdAt.getTime() + 1200_000);
    expect((await storedExpiry(hash)).getTime()).toBe(createdAt.getTime() + 1200_000);
  });
});

describe("keygate.end_session", () => {
  it("ends a session server-side, and ending it again answers false", async () => {
    const user = await createUser(database.admin);
    const { hash } = await createSession(user.id);
    const end = async () =>
      (await database.db.query<{ ended: boolean }>("select keygate.end_session($1) as ended", [hash]))[0].ended;
    expect(await end()).toBe(true);
    expect(await getSession(hash)).toBeUndefined();
    expect(await end()).toBe(false);
  });
});
