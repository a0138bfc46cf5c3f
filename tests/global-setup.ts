/**
 * Runs once per `npm test`: migrates a template database with the real
 * migration path (shim + `supabase db push`), so each suite can clone a fresh
 * database from it in milliseconds. Dropped again at the end.
 */
import type { TestProject } from "vitest/node";
import pg from "pg";
import { migrate } from "../scripts/migrate.mjs";
import { adminUrl, databaseUrlFor } from "./helpers/postgres.ts";

declare module "vitest" {
  export interface ProvidedContext {
    templateDatabase: string;
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

  return async () => {
    const client = new pg.Client({ connectionString: adminUrl() });
    await client.connect();
    await client.query(`drop database if exists ${name} with (force)`);
    await client.end();
  };
}
