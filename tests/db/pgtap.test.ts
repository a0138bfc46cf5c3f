/**
 * Runs the pgTAP files in supabase/tests/database with pg_prove against a freshly migrated
 * database, as a user would against their hosted project. Where pg_prove or
 * the pgtap extension is missing, the suite is skipped with one visible line,
 * unless KEYGATE_REQUIRE_ALL=1 (set by .ci/run), where that is a failure.
 */
import { execFile, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { adminUrl } from "../helpers/postgres.ts";
import { projectRoot } from "../helpers/server.ts";

const INSTALL_HINT = "apt-get install postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl";
const required = process.env.KEYGATE_REQUIRE_ALL === "1";

async function pgtapAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl() });
  try {
    await client.connect();
    const { rowCount } = await client.query("select 1 from pg_available_extensions where name = 'pgtap'");
    return rowCount === 1;
  } catch {
    return false; // No Postgres at all: global setup reports that loudly.
  } finally {
    await client.end().catch(() => {});
  }
}

const hasPgProve = spawnSync("pg_prove", ["--version"], { stdio: "ignore" }).status === 0;
const missing =
  hasPgProve && (await pgtapAvailable()) ? null : hasPgProve ? "the pgtap extension is missing" : "pg_prove is missing";
if (missing && !required) console.log(`skipping pgTAP tests: ${missing} (${INSTALL_HINT})`);

const testFiles = readdirSync(path.join(projectRoot, "supabase", "tests", "database"))
  .filter((f) => f.endsWith(".test.sql"))
  .sort()
  .map((f) => path.join("supabase", "tests", "database", f));

function pgProve(databaseUrl: string): Promise<{ code: number; output: string }> {
  const url = new URL(databaseUrl);
  const args = [
    "-h",
    url.hostname,
    "-p",
    url.port || "5432",
    "-U",
    decodeURIComponent(url.username || "postgres"),
    "-d",
    url.pathname.slice(1),
    ...testFiles,
  ];
  const env = { ...process.env, ...(url.password ? { PGPASSWORD: decodeURIComponent(url.password) } : {}) };
  return new Promise((resolve) => {
    execFile("pg_prove", args, { cwd: projectRoot, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe.skipIf(missing !== null && !required)("pgTAP tests in supabase/tests/database (pg_prove)", () => {
  let database: TestDatabase;

  beforeAll(async () => {
    if (missing) throw new Error(`KEYGATE_REQUIRE_ALL=1 but ${missing}: ${INSTALL_HINT}`);
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("all pass against the migrated database", async () => {
    expect(testFiles.length).toBeGreaterThanOrEqual(2);
    const { code, output } = await pgProve(database.url);
    expect(output).toContain("All tests successful");
    expect(output).toMatch(/Result: PASS/);
    expect(code).toBe(0);
    const ran = Number(/Tests=(\d+)/.exec(output)?.[1] ?? 0);
    expect(ran).toBeGreaterThanOrEqual(60);
  });

  it("fail once a client role is granted what it must not have", async () => {
    await database.admin.query("grant select (key_hash) on public.api_keys to authenticated");
    try {
      const { code, output } = await pgProve(database.url);
      expect(output).toMatch(/Result: FAIL/);
      expect(output).toContain("authenticated cannot read api_keys.key_hash");
      expect(code).not.toBe(0);
    } finally {
      await database.admin.query("revoke select (key_hash) on public.api_keys from authenticated");
    }
  });
});
