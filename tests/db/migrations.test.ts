/**
 * `migrate(url)` (shim + the real `supabase db push`): running it again
 * changes nothing, and a broken migration is rolled back whole, reported
 * clearly, and not recorded.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../scripts/migrate.mjs";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { projectRoot } from "../helpers/server.ts";

/** Everything the migrations and the shim define, as sorted lines (no oids). */
const FINGERPRINT = `
with schemas as (select oid, nspname from pg_namespace where nspname in ('public', 'keygate', 'auth', 'supabase_migrations'))
select line from (
  select 'schema ' || nspname || ' ' || coalesce(nspacl::text, '') as line
    from pg_namespace where nspname in (select nspname from schemas)
  union all
  select 'rel ' || s.nspname || '.' || c.relname || ' ' || c.relkind::text || ' rls=' || c.relrowsecurity || ' ' || coalesce(c.relacl::text, '')
    from pg_class c join schemas s on s.oid = c.relnamespace
  union all
  select 'col ' || s.nspname || '.' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || ' notnull=' || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' ' || coalesce(a.attacl::text, '')
    from pg_attribute a join pg_class c on c.oid = a.attrelid join schemas s on s.oid = c.relnamespace
    left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
   where a.attnum > 0 and not a.attisdropped
  union all
  select 'fn ' || s.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') '
         || md5(pg_get_functiondef(p.oid)) || ' ' || coalesce(p.proacl::text, '')
    from pg_proc p join schemas s on s.oid = p.pronamespace
  union all
  select 'policy ' || schemaname || '.' || tablename || ' ' || policyname || ' ' || cmd || ' ' || roles::text
         || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '')
    from pg_policies where schemaname in (select nspname from schemas)
  union all
  select 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    from pg_constraint where connamespace in (select oid from schemas)
  union all
  select 'index ' || pg_get_indexdef(indexrelid) from pg_index where indrelid in (select c.oid from pg_class c join schemas s on s.oid = c.relnamespace)
  union all
  select 'trigger ' || tgrelid::regclass::text || ' ' || pg_get_triggerdef(oid)
    from pg_trigger where not tgisinternal
  union all
  select 'default-acl ' || defaclrole::regrole::text || ' ' || coalesce(defaclnamespace::regnamespace::text, '') || ' '
         || defaclobjtype::text || ' ' || defaclacl::text
    from pg_default_acl
  union all
  select 'role ' || rolname || ' login=' || rolcanlogin || ' bypassrls=' || rolbypassrls || ' inherit=' || rolinherit
    from pg_roles where rolname in ('anon', 'authenticated', 'service_role', 'authenticator')
  union all
  select 'migration ' || version || ' ' || coalesce(name, '') || ' ' || md5(coalesce(statements::text, ''))
    from supabase_migrations.schema_migrations
) lines order by line`;

async function fingerprint(database: TestDatabase): Promise<string[]> {
  const { rows } = await database.admin.query<{ line: string }>(FINGERPRINT);
  return rows.map((r) => r.line);
}

const migrationFiles = () =>
  readdirSync(path.join(projectRoot, "supabase", "migrations")).filter((f) => f.endsWith(".sql"));

describe("running the migrations again", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("changes nothing and says the database is up to date", async () => {
    const before = await fingerprint(database);
    expect(before.filter((l) => l.startsWith("migration "))).toHaveLength(migrationFiles().length);
    expect(before.filter((l) => l.startsWith("fn keygate.")).length).toBeGreaterThan(10);
    expect(before.length).toBeGreaterThan(100);

    const output = await migrate(database.url, { quiet: true });
    expect(output).toMatch(/up to date/i);
    expect(await fingerprint(database)).toEqual(before);
  });
});

describe("a broken migration", () => {
  let database: TestDatabase;
  let workdir: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    workdir = mkdtempSync(path.join(tmpdir(), "keygate-migrations-"));
    cpSync(path.join(projectRoot, "supabase"), path.join(workdir, "supabase"), {
      recursive: true,
      filter: (src) => path.basename(src) !== ".temp",
    });
    const migrations = path.join(workdir, "supabase", "migrations");
    writeFileSync(
      path.join(migrations, "20991231000100_good.sql"),
      "create table public.good_one (id int primary key);\n",
    );
    writeFileSync(
      path.join(migrations, "20991231000200_broken.sql"),
      [
        "create table public.half_done (id int primary key);",
        "create function keygate.half_done() returns int language sql as $$ select 1 $$;",
        "alter table public.users add column half_done text;",
        "insert into public.users (email) values ('half@example.test');",
        "select 1 / 0;",
        "",
      ].join("\n"),
    );
  });
  afterAll(async () => {
    await database?.drop();
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  it("fails with a message naming the migration and the database error", async () => {
    const err = await migrate(database.url, { quiet: true, workdir }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain("supabase db push failed");
    expect(err!.message).toContain("20991231000200_broken.sql");
    expect(err!.message).toContain("division by zero");
  });

  it("leaves nothing of the broken migration behind and does not record it", async () => {
    const { rows } = await database.admin.query(`
      select to_regclass('public.half_done') as half_table,
             to_regprocedure('keygate.half_done()') as half_function,
             exists (select 1 from information_schema.columns where table_name = 'users' and column_name = 'half_done') as half_column,
             exists (select 1 from public.users where email = 'half@example.test') as half_row,
             array(select version from supabase_migrations.schema_migrations where version like '2099%' order by 1) as recorded`);
    expect(rows[0]).toEqual({
      half_table: null,
      half_function: null,
      half_column: false,
      half_row: false,
      recorded: ["20991231000100"],
    });
  });

  it("keeps the migrations before it applied and recorded", async () => {
    const { rows } = await database.admin.query("select to_regclass('public.good_one')::text as good");
    expect(rows[0].good).toBe("good_one");
  });
});
