/**
 * Runs once per `npm test`: migrates a template database with the real
 * migration path (shim + `supabase db push`), so each suite can clone a fresh
 * database from it in milliseconds. Dropped again at the end. Where PgBouncer
 * is installed it also starts one transaction-mode pooler in front of the
 * test Postgres, which the "pooler" project's suites reach their databases
 * through (tests/helpers/database.ts); stopped at the end.
 */

import pg from "pg";
import type { TestProject } from "vitest/node";
import { migrate } from "../scripts/migrate.mjs";
import { pgbouncerBinary, type RunningPgBouncer, startPgBouncer } from "../scripts/pgbouncer.mjs";
import { adminUrl, databaseUrlFor } from "./helpers/postgres.ts";

declare module "vitest" {
  export interface ProvidedContext {
    templateDatabase: string;
    /** The shared PgBouncer's loopback port, 0 where PgBouncer is not installed. */
    poolerPort: number;
  }
}

export default async function setup(project: TestProject) {
  const name = `kg_template_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `Postgres is not reachable at ${adminUrl()} (set TEST_DATABASE_URL, or start it: ` +
        `pg_ctlcluster --skip-systemctl-redirect 15 main start): ${(err as Error).message}`,
    );
  }
  await admin.query(`create database ${name}`);
  await admin.end();
  await migrate(databaseUrlFor(name), { quiet: true });
  project.provide("templateDatabase", name);

  // A small server pool per test database, as a pooler shares few server
  // connections among many clients.
  let pooler: RunningPgBouncer | undefined;
  if (pgbouncerBinary()) pooler = await startPgBouncer({ target: adminUrl(), poolSize: 4 });
  project.provide("poolerPort", pooler?.port ?? 0);

  return async () => {
    await pooler?.stop();
    const client = new pg.Client({ connectionString: adminUrl() });
    await client.connect();
    await client.query(`drop database if exists ${name} with (force)`);
    await client.end();
  };
}
