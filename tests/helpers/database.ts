/**
 * A fresh, fully migrated Postgres database per suite, cloned from the
 * template that tests/global-setup.ts migrated with the real migrations.
 *
 * With KEYGATE_TEST_POOLER=1 (the "pooler" project in vitest.config.ts) the
 * application's side (`url`, `db`) goes through the shared transaction-mode
 * PgBouncer, as a hosted deployment's DATABASE_URL does; the superuser
 * `admin` pool stays direct.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { createDb, type Db } from "../../functions/_shared/db/db.ts";
import { adminUrl, databaseUrlFor } from "./postgres.ts";

export interface TestDatabase {
  name: string;
  /** What the application connects to: the database itself, or the pooler in front of it. */
  url: string;
  /** The database itself, never through the pooler. */
  directUrl: string;
  /** The application's own handle, as the functions use it. */
  db: Db;
  /** A superuser pool for arranging and inspecting state. */
  admin: pg.Pool;
  drop(): Promise<void>;
}

async function cloneTemplate(name: string, template: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`create database ${name} template ${template}`);
        return;
      } catch (err) {
        // Another suite cloning the template at the same moment: wait and retry.
        if ((err as { code?: string }).code !== "55006" || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  } finally {
    await client.end();
  }
}

/** True in the run of the suites through the transaction-mode pooler. */
export function throughPooler(): boolean {
  return process.env.KEYGATE_TEST_POOLER === "1";
}

function applicationUrl(directUrl: string): string {
  if (!throughPooler()) return directUrl;
  const port = inject("poolerPort");
  if (!port) throw new Error("KEYGATE_TEST_POOLER=1 but no pooler was started (is pgbouncer installed?)");
  const url = new URL(directUrl);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return url.toString();
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `kg_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  await cloneTemplate(name, inject("templateDatabase"));
  const directUrl = databaseUrlFor(name);
  const url = applicationUrl(directUrl);
  const db = createDb(url, { max: 10 });
  const admin = new pg.Pool({ connectionString: directUrl, max: 4 });
  // pg's Pool.end() resolves before its connections have closed, so drop()'s
  // forced drop can terminate one still closing; the pool then emits "error",
  // which without a listener is an uncaught exception that fails the run.
  // Queries report their own errors; an idle connection's end is no failure.
  admin.on("error", () => {});
  return {
    name,
    url,
    directUrl,
    db,
    admin,
    async drop() {
      await db.end();
      await admin.end();
      const client = new pg.Client({ connectionString: adminUrl() });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

let userCounter = 0;

/**
 * Inserts a user directly (as the superuser), for tests that need one. The
 * role defaults to `member`, whose keys may use every read and write scope
 * (a `viewer`'s keys verify with read scopes only); suites about roles pass one.
 */
export async function createUser(
  admin: pg.Pool,
  fields: { email?: string; name?: string; role?: string; is_active?: boolean } = {},
): Promise<{ id: string; email: string }> {
  userCounter += 1;
  const email = fields.email ?? `user${userCounter}-${randomUUID().slice(0, 8)}@example.test`;
  const { rows } = await admin.query(
    `insert into public.users (email, name, role, is_active)
     values ($1, $2, coalesce($3, 'member'), coalesce($4, true)) returning id, email`,
    [email, fields.name ?? null, fields.role ?? null, fields.is_active ?? null],
  );
  return rows[0];
}
