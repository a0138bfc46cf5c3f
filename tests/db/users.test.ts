/**
 * keygate.upsert_user_from_identity, find_user_by_identity, set_user_active
 * and the updated_at trigger, called the way the server calls them.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeygateError } from "../../functions/_shared/core/errors.ts";
import { createDb } from "../../functions/_shared/db/db.ts";
import type { UserRow } from "../../functions/_shared/db/rows.ts";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

function upsert(
  provider: string,
  subject: string,
  email: string,
  verified: boolean,
  name: string | null = null,
  imageUrl: string | null = null,
) {
  return database.db
    .query<UserRow>("select * from keygate.upsert_user_from_identity($1, $2, $3, $4, $5, $6)", [
      provider,
      subject,
      email,
      verified,
      name,
      imageUrl,
    ])
    .then((rows) => rows[0]);
}

function uniqueEmail(label = "user") {
  return `${label}-${randomUUID().slice(0, 8)}@example.test`;
}

async function counts() {
  const { rows } = await database.admin.query(
    "select (select count(*) from public.users)::int as users, (select count(*) from public.user_identities)::int as identities",
  );
  return rows[0] as { users: number; identities: number };
}

async function rejection(promise: Promise<unknown>): Promise<KeygateError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeygateError);
  return err as KeygateError;
}

describe("keygate.upsert_user_from_identity", () => {
  it("creates a user and its identity on a first login", async () => {
    const email = uniqueEmail();
    const user = await upsert("github", `gh-${randomUUID()}`, email, true, "Ada", "https://img.example/ada.png");
    expect(user).toMatchObject({
      email,
      name: "Ada",
      image_url: "https://img.example/ada.png",
      role: "viewer",
      is_active: true,
    });
    expect(user.last_login_at).toBeInstanceOf(Date);
    const { rows } = await database.admin.query(
      "select provider, user_id, email from public.user_identities where user_id = $1",
      [user.id],
    );
    expect(rows).toEqual([{ provider: "github", user_id: user.id, email }]);
  });

  it("returns the same user for the same identity, with the profile updated and last_login_at set", async () => {
    const subject = `gh-${randomUUID()}`;
    const first = await upsert("github", subject, uniqueEmail(), true, "Old Name");
    await database.admin.query("update public.users set last_login_at = now() - interval '1 day' where id = $1", [
      first.id,
    ]);
    const before = await counts();

    const again = await upsert(
      "github",
      subject,
      uniqueEmail("changed"),
      true,
      "New Name",
      "https://img.example/new.png",
    );
    expect(again.id).toBe(first.id);
    expect(again.name).toBe("New Name");
    expect(again.image_url).toBe("https://img.example/new.png");
    expect(again.email).toMatch(/^changed-/);
    expect(Date.now() - again.last_login_at!.getTime()).toBeLessThan(60_000);
    expect(await counts()).toEqual(before);
  });

  it("keeps the stored name when the provider sends none", async () => {
    const subject = `gh-${randomUUID()}`;
    const email = uniqueEmail();
    await upsert("github", subject, email, true, "Kept");
    expect((await upsert("github", subject, email, true, null)).name).toBe("Kept");
  });

  it("links a new identity to an existing user by a verified email, whatever its case", async () => {
    const email = uniqueEmail("Linked");
    const first = await upsert("github", `gh-${randomUUID()}`, email, true);
    const second = await upsert("google", `g-${randomUUID()}`, email.toUpperCase(), true);
    expect(second.id).toBe(first.id);
    const { rows } = await database.admin.query(
      "select provider from public.user_identities where user_id = $1 order by 1",
      [first.id],
    );
    expect(rows.map((r) => r.provider)).toEqual(["github", "google"]);
  });

  it("refuses an unverified email with email_unverified and writes nothing", async () => {
    const email = uniqueEmail();
    const existing = await upsert("github", `gh-${randomUUID()}`, email, true);
    const before = await counts();

    const err = await rejection(upsert("google", `g-${randomUUID()}`, email, false));
    expect(err.code).toBe("email_unverified");
    const fresh = await rejection(upsert("google", `g-${randomUUID()}`, uniqueEmail(), false));
    expect(fresh.code).toBe("email_unverified");

    expect(await counts()).toEqual(before);
    const { rows } = await database.admin.query(
      "select count(*)::int as n from public.user_identities where user_id = $1",
      [existing.id],
    );
    expect(rows[0].n).toBe(1);
  });

  it("refuses an inactive user with user_inactive and writes nothing", async () => {
    const subject = `gh-${randomUUID()}`;
    const email = uniqueEmail();
    const user = await upsert("github", subject, email, true, "Before");
    await database.admin.query("update public.users set is_active = false, last_login_at = null where id = $1", [
      user.id,
    ]);
    const before = await counts();

    expect((await rejection(upsert("github", subject, email, true, "After"))).code).toBe("user_inactive");
    // A new identity linked by verified email to the inactive user is refused too, and not recorded.
    expect((await rejection(upsert("google", `g-${randomUUID()}`, email, true, "After"))).code).toBe("user_inactive");

    expect(await counts()).toEqual(before);
    const { rows } = await database.admin.query("select name, last_login_at from public.users where id = $1", [
      user.id,
    ]);
    expect(rows[0]).toEqual({ name: "Before", last_login_at: null });
  });

  it("reuses a Supabase Auth uuid subject as the user's id", async () => {
    const subject = randomUUID();
    const user = await upsert("supabase", subject, uniqueEmail(), true);
    expect(user.id).toBe(subject);
  });

  it("gives a Supabase subject that is no uuid, or whose uuid is taken, a fresh id", async () => {
    const notUuid = await upsert("supabase", "not-a-uuid", uniqueEmail(), true);
    expect(notUuid.id).toMatch(/^[0-9a-f-]{36}$/);
    const taken = await createUser(database.admin);
    const other = await upsert("supabase", taken.id, uniqueEmail(), true);
    expect(other.id).not.toBe(taken.id);
  });

  it("keeps a user's address when the provider reports one another account holds", async () => {
    const holder = await createUser(database.admin);
    const subject = `gh-${randomUUID()}`;
    const email = uniqueEmail();
    const user = await upsert("github", subject, email, true);
    const again = await upsert("github", subject, holder.email.toUpperCase(), true);
    expect(again.id).toBe(user.id);
    expect(again.email).toBe(email);
  });

  it("rejects a missing subject or a malformed email as invalid input (400, not 500)", async () => {
    for (const [subject, email] of [
      ["", uniqueEmail()],
      [`gh-${randomUUID()}`, "not an email"],
    ]) {
      const err = await upsert("github", subject, email, true).then(
        () => null,
        (e) => e,
      );
      expect(err).toMatchObject({ code: "validation_failed", status: 400 });
    }
  });

  it("gives 50 parallel first logins of one identity a single user", async () => {
    const pool = createDb(database.url, { max: 25 });
    try {
      const subject = `gh-${randomUUID()}`;
      const email = uniqueEmail("race");
      const users = await Promise.all(
        Array.from({ length: 50 }, () =>
          pool.query<UserRow>("select * from keygate.upsert_user_from_identity($1, $2, $3, true, null, null)", [
            "github",
            subject,
            email,
          ]),
        ),
      );
      expect(new Set(users.map(([u]) => u.id)).size).toBe(1);
      const { rows } = await database.admin.query(
        "select (select count(*) from public.users where lower(email) = lower($1))::int as users, (select count(*) from public.user_identities where subject = $2)::int as identities",
        [email, subject],
      );
      expect(rows[0]).toEqual({ users: 1, identities: 1 });
    } finally {
      await pool.end();
    }
  });

  it("gives 50 parallel first logins of one verified address through different providers a single user", async () => {
    const pool = createDb(database.url, { max: 25 });
    try {
      const email = uniqueEmail("race2");
      const users = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          pool.query<UserRow>("select * from keygate.upsert_user_from_identity($1, $2, $3, true, null, null)", [
            `p${i % 5}`,
            `s-${i}-${randomUUID()}`,
            i % 2 ? email : email.toUpperCase(),
          ]),
        ),
      );
      expect(new Set(users.map(([u]) => u.id)).size).toBe(1);
    } finally {
      await pool.end();
    }
  });
});

describe("public.users constraints", () => {
  it("keeps email unique case-insensitively", async () => {
    const user = await createUser(database.admin);
    const err = await createUser(database.admin, { email: user.email.toUpperCase() }).then(
      () => null,
      (e) => e,
    );
    expect(err).toMatchObject({ code: "23505" });
  });

  it("defaults role to viewer and accepts only viewer, member and admin", async () => {
    const { rows } = await database.admin.query(
      "insert into public.users (email) values ('default-role@example.test') returning role",
    );
    expect(rows[0].role).toBe("viewer");
    const err = await createUser(database.admin, { role: "owner" }).then(
      () => null,
      (e) => e,
    );
    expect(err).toMatchObject({ code: "23514" });
  });

  it("keeps updated_at current on every update, whatever the writer sets", async () => {
    const user = await createUser(database.admin);
    const { rows } = await database.admin.query(
      "update public.users set name = 'Renamed', updated_at = '2000-01-01', created_at = '2000-01-01' where id = $1 returning created_at, updated_at",
      [user.id],
    );
    expect(rows[0].created_at.toISOString()).toBe("2000-01-01T00:00:00.000Z");
    expect(Date.now() - rows[0].updated_at.getTime()).toBeLessThan(60_000);
  });
});

describe("keygate.find_user_by_identity", () => {
  it("returns the linked user without writing", async () => {
    const subject = `gh-${randomUUID()}`;
    const user = await upsert("github", subject, uniqueEmail(), true);
    await database.admin.query("update public.users set last_login_at = null where id = $1", [user.id]);
    const [found] = await database.db.query<UserRow>("select * from keygate.find_user_by_identity($1, $2)", [
      "github",
      subject,
    ]);
    expect(found).toMatchObject({ id: user.id, last_login_at: null });
  });

  it("returns no row for an unknown identity", async () => {
    const rows = await database.db.query<UserRow>("select * from keygate.find_user_by_identity($1, $2)", [
      "github",
      "nobody",
    ]);
    expect(rows).toEqual([]);
  });
});

describe("keygate.set_user_active", () => {
  it("turns an account off and on again", async () => {
    const user = await createUser(database.admin);
    const [off] = await database.db.query<{ ok: boolean }>("select keygate.set_user_active($1, false) as ok", [
      user.id,
    ]);
    expect(off.ok).toBe(true);
    const read = async () =>
      (await database.admin.query("select is_active from public.users where id = $1", [user.id])).rows[0].is_active;
    expect(await read()).toBe(false);
    await database.db.query("select keygate.set_user_active($1, true)", [user.id]);
    expect(await read()).toBe(true);
  });

  it("reports an unknown user as not found (null)", async () => {
    const [row] = await database.db.query<{ ok: boolean | null }>("select keygate.set_user_active($1, false) as ok", [
      randomUUID(),
    ]);
    expect(row.ok).toBeNull();
  });
});
