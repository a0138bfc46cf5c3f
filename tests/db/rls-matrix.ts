/**
 * The Row Level Security and privilege matrix, written once and run against
 * every database Keygate supports (real Postgres, PGlite over pglite-socket):
 * (anon, authenticated owner, authenticated other user, service_role) x
 * (select, insert, update, delete) x every table, the column privilege on
 * `api_keys.key_hash`, and which functions clients may execute.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientRole, Outcome, SqlRunner } from "../helpers/rls.ts";

const TABLES = [
  "users",
  "user_identities",
  "api_keys",
  "jobs",
  "sessions",
  "user_capabilities",
  "sign_in_codes",
] as const;
/**
 * Tables outside the matrix, with checks of their own below: the append-only audit log, the shared counters,
 * and the organization tables (read by membership, not by owner; supabase/tests/database/08_organizations.test.sql
 * checks who sees which rows).
 */
const ORG_TABLES = ["organizations", "organization_members", "organization_invitations"] as const;
const OTHER_TABLES = ["audit_events", "shared_counters", ...ORG_TABLES];
type Table = (typeof TABLES)[number];
type Operation = "select" | "insert" | "update" | "delete";

/** Every statement yields the owning user's id as `owner`; writes target $1. */
const statements: Record<Table, Record<Operation, string>> = {
  users: {
    select: "select id as owner from public.users",
    insert: "insert into public.users (email) values ('new-' || $1 || '@example.test') returning id as owner",
    update: "update public.users set name = 'changed' where id = $1 returning id as owner",
    delete: "delete from public.users where id = $1 returning id as owner",
  },
  user_identities: {
    select: "select user_id as owner from public.user_identities",
    insert:
      "insert into public.user_identities (provider, subject, user_id) values ('test', 'new-subject', $1) returning user_id as owner",
    update:
      "update public.user_identities set email = 'changed@example.test' where user_id = $1 returning user_id as owner",
    delete: "delete from public.user_identities where user_id = $1 returning user_id as owner",
  },
  api_keys: {
    // Every column a client may see, but not key_hash.
    select:
      "select user_id as owner, id, name, start, scopes, created_at, expires_at, revoked_at, last_used_at, replaced_by from public.api_keys",
    insert:
      "insert into public.api_keys (user_id, name, start, key_hash) values ($1, 'new', 'kg_newkey', decode(repeat('ee', 32), 'hex')) returning user_id as owner",
    update:
      "update public.api_keys set revoked_at = null, name = 'changed' where user_id = $1 returning user_id as owner",
    delete: "delete from public.api_keys where user_id = $1 returning user_id as owner",
  },
  jobs: {
    select: "select user_id as owner from public.jobs",
    insert: "insert into public.jobs (user_id, type) values ($1, 'forged') returning user_id as owner",
    update: "update public.jobs set status = 'succeeded' where user_id = $1 returning user_id as owner",
    delete: "delete from public.jobs where user_id = $1 returning user_id as owner",
  },
  sessions: {
    select: "select user_id as owner from public.sessions",
    insert:
      "insert into public.sessions (user_id, token_hash, expires_at) values ($1, decode(repeat('ef', 32), 'hex'), now() + interval '1 day') returning user_id as owner",
    update:
      "update public.sessions set expires_at = now() + interval '10 years' where user_id = $1 returning user_id as owner",
    delete: "delete from public.sessions where user_id = $1 returning user_id as owner",
  },
  user_capabilities: {
    select: "select user_id as owner from public.user_capabilities",
    insert:
      "insert into public.user_capabilities (user_id, capability) values ($1, 'users.manage') returning user_id as owner",
    update: "update public.user_capabilities set granted_at = now() where user_id = $1 returning user_id as owner",
    delete: "delete from public.user_capabilities where user_id = $1 returning user_id as owner",
  },
  sign_in_codes: {
    select: "select user_id as owner from public.sign_in_codes",
    insert:
      "insert into public.sign_in_codes (code_hash, user_id, code_challenge, origin, expires_at) values (decode(repeat('ed', 32), 'hex'), $1, repeat('c', 43), 'https://app.example.test', now() + interval '1 minute') returning user_id as owner",
    update:
      "update public.sign_in_codes set expires_at = now() + interval '5 minutes' where user_id = $1 returning user_id as owner",
    delete: "delete from public.sign_in_codes where user_id = $1 returning user_id as owner",
  },
};

const OWN_ROWS_READABLE: Table[] = ["users", "user_identities", "api_keys", "jobs"];

interface Fixture {
  owner: string;
  other: string;
  /** A user linked to a Supabase Auth subject that differs from their id. */
  linked: string;
  linkedSubject: string;
}

async function arrange(runner: SqlRunner): Promise<Fixture> {
  const linkedSubject = randomUUID();
  const ids: string[] = [];
  for (const name of ["owner", "other", "linked"]) {
    const [user] = await runner.admin<{ id: string }>(
      "insert into public.users (email, name) values ($1, $2) returning id",
      [`${name}-${randomUUID().slice(0, 8)}@example.test`, name],
    );
    const id = user.id;
    ids.push(id);
    await runner.admin(
      "insert into public.user_identities (provider, subject, user_id, email) values ($1, $2, $3, 'x@example.test')",
      name === "linked" ? ["supabase", linkedSubject, id] : ["github", `gh-${name}`, id],
    );
    await runner.admin(
      "insert into public.api_keys (user_id, name, start, key_hash, scopes) values ($1, $2, 'kg_abcdefg', sha256(convert_to(gen_random_uuid()::text, 'utf8')), '{jobs:read}')",
      [id, `${name} key`],
    );
    await runner.admin("insert into public.jobs (user_id, type) values ($1, 'report')", [id]);
    await runner.admin(
      "insert into public.sessions (user_id, token_hash, expires_at) values ($1, sha256(convert_to(gen_random_uuid()::text, 'utf8')), now() + interval '1 day')",
      [id],
    );
    await runner.admin("insert into public.user_capabilities (user_id, capability) values ($1, 'users.read')", [id]);
    await runner.admin("select keygate.append_audit_event('test.arranged', 'success', $1, $1)", [id]);
    await runner.admin(
      "insert into public.sign_in_codes (code_hash, user_id, code_challenge, origin, expires_at) values (sha256(convert_to(gen_random_uuid()::text, 'utf8')), $1, repeat('c', 43), 'https://app.example.test', now() + interval '1 minute')",
      [id],
    );
  }
  return { owner: ids[0], other: ids[1], linked: ids[2], linkedSubject };
}

function claimsFor(role: ClientRole, sub?: string): Record<string, unknown> {
  return sub ? { sub, role } : { role };
}

function owners(outcome: Outcome): string[] {
  if (!outcome.ok) throw new Error(`expected rows, got ${outcome.code}: ${outcome.message}`);
  return [...new Set(outcome.rows.map((r) => String(r.owner)))].sort();
}

function expectDenied(outcome: Outcome) {
  expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: false, code: "42501" });
}

/** Defines the matrix as a describe block; `connect` opens a runner on a migrated database. */
export function defineRlsMatrix(label: string, connect: () => Promise<{ runner: SqlRunner; close(): Promise<void> }>) {
  describe(`RLS and privileges on ${label}`, () => {
    let runner: SqlRunner;
    let close: () => Promise<void>;
    let f: Fixture;

    beforeAll(async () => {
      ({ runner, close } = await connect());
      f = await arrange(runner);
    });
    afterAll(async () => {
      await close?.();
    });

    describe.each(TABLES)("table %s", (table) => {
      const s = statements[table];

      it.each(["select", "insert", "update", "delete"] as const)("anon cannot %s", async (op) => {
        expectDenied(await runner.as("anon", claimsFor("anon"), s[op], op === "select" ? [] : [f.owner]));
      });

      it.each(["insert", "update", "delete"] as const)(
        "an authenticated user cannot %s, not even their own rows",
        async (op) => {
          expectDenied(await runner.as("authenticated", claimsFor("authenticated", f.owner), s[op], [f.owner]));
          expectDenied(await runner.as("authenticated", claimsFor("authenticated", f.other), s[op], [f.owner]));
        },
      );

      if (OWN_ROWS_READABLE.includes(table)) {
        it("an authenticated user selects only their own rows", async () => {
          expect(owners(await runner.as("authenticated", claimsFor("authenticated", f.owner), s.select))).toEqual([
            f.owner,
          ]);
        });
        it("another authenticated user sees none of the owner's rows", async () => {
          expect(owners(await runner.as("authenticated", claimsFor("authenticated", f.other), s.select))).toEqual([
            f.other,
          ]);
        });
        it("a Supabase Auth subject linked by identity sees that user's rows", async () => {
          const claims = claimsFor("authenticated", f.linkedSubject);
          expect(owners(await runner.as("authenticated", claims, s.select))).toEqual([f.linked]);
        });
        it("an authenticated token for no known user, or without a subject, sees nothing", async () => {
          expect(owners(await runner.as("authenticated", claimsFor("authenticated", randomUUID()), s.select))).toEqual(
            [],
          );
          expect(owners(await runner.as("authenticated", claimsFor("authenticated"), s.select))).toEqual([]);
        });
      } else {
        it("an authenticated user cannot select at all", async () => {
          expectDenied(await runner.as("authenticated", claimsFor("authenticated", f.owner), s.select));
        });
      }

      it("service_role selects every row", async () => {
        const seen = owners(await runner.as("service_role", claimsFor("service_role"), s.select));
        expect(seen).toEqual(expect.arrayContaining([f.owner, f.other, f.linked]));
        const all = await runner.admin<{ owner: string }>(s.select);
        expect(seen).toEqual([...new Set(all.map((r) => String(r.owner)))].sort());
      });

      it("service_role can insert", async () => {
        const outcome = await runner.as("service_role", claimsFor("service_role"), s.insert, [f.owner]);
        expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true, rowCount: 1 });
      });

      it.each(["update", "delete"] as const)("service_role can %s any row", async (op) => {
        const outcome = await runner.as("service_role", claimsFor("service_role"), s[op], [f.owner]);
        expect(owners(outcome)).toEqual([f.owner]);
      });
    });

    describe("api_keys.key_hash", () => {
      it("is not selectable by an authenticated user, even on their own key", async () => {
        const claims = claimsFor("authenticated", f.owner);
        expectDenied(
          await runner.as("authenticated", claims, "select key_hash from public.api_keys where user_id = $1", [
            f.owner,
          ]),
        );
        expectDenied(await runner.as("authenticated", claims, "select * from public.api_keys"));
      });
      it("is not selectable by anon", async () => {
        expectDenied(await runner.as("anon", claimsFor("anon"), "select key_hash from public.api_keys"));
      });
      it("is readable by service_role", async () => {
        const outcome = await runner.as(
          "service_role",
          claimsFor("service_role"),
          "select key_hash from public.api_keys where user_id = $1",
          [f.owner],
        );
        expect(outcome).toMatchObject({ ok: true, rowCount: 1 });
      });
      it("holds a column privilege for no client role", async () => {
        const rows = await runner.admin<{ role: string; can: boolean }>(
          `select r as role, has_column_privilege(r, 'public.api_keys', 'key_hash', p) as can
             from unnest(array['anon', 'authenticated']) r, unnest(array['select', 'insert', 'update', 'references']) p`,
        );
        expect(rows.filter((r) => r.can)).toEqual([]);
        expect(rows).toHaveLength(8);
      });
    });

    describe("functions", () => {
      it("none in keygate or public is executable by anon or authenticated, but keygate.current_user_id() for authenticated", async () => {
        const rows = await runner.admin<{ fn: string; role: string }>(
          `select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' as fn, r as role
             from pg_proc p
             join pg_namespace n on n.oid = p.pronamespace
             cross join unnest(array['anon', 'authenticated']) r
            where n.nspname in ('keygate', 'public')
              and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
              and has_function_privilege(r, p.oid, 'execute')
            order by 1, 2`,
        );
        expect(rows).toEqual([
          { fn: "keygate.current_user_id()", role: "authenticated" },
          // The organization policies' membership lookups.
          { fn: "keygate.org_ids_for_current_user()", role: "authenticated" },
          { fn: "keygate.org_ids_for_current_user(p_roles text[])", role: "authenticated" },
        ]);
      });

      it("every write function exists and is executable by service_role", async () => {
        const rows = await runner.admin<{ proname: string; can: boolean }>(
          `select p.proname, has_function_privilege('service_role', p.oid, 'execute') as can
             from pg_proc p where p.pronamespace = 'keygate'::regnamespace
              and p.proname not in ('touch_updated_at', 'lock_key_owner', 'lock_org_key_owner', 'lock_org_key_for_change', 'org_api_key_info') -- internal helpers
            order by 1`,
        );
        expect(rows.map((r) => r.proname)).toEqual(
          [
            "cancel_job",
            "claim_jobs",
            "complete_job",
            "count_jobs",
            "create_api_key",
            "create_job",
            "create_session",
            "create_sign_in_code",
            "current_user_id",
            "end_session",
            "fail_job",
            "find_user_by_identity",
            "get_job",
            "get_session",
            "heartbeat_job",
            "list_api_keys",
            "list_jobs",
            "lookup_api_key",
            "purge_ended_api_keys",
            "purge_expired_sessions",
            "redeem_sign_in_code",
            "revoke_api_key",
            "rotate_api_key",
            "set_user_active",
            "touch_api_key",
            "upsert_user_from_identity",
            "verify_api_key",
            // Roles, capabilities, the admin API and the audit log.
            "admin_get_user",
            "admin_list_organizations",
            "admin_list_users",
            "admin_set_organization_active",
            "admin_required_capabilities",
            "admin_revoke_key",
            "admin_set_user_active",
            "admin_update_user",
            "admin_update_user_by_email",
            "admin_user_info",
            "all_capabilities",
            "append_audit_event",
            "apply_user_change",
            "assert_capabilities",
            "assert_not_last_admin",
            "audit_events_append_only",
            "audit_retention",
            "effective_capabilities",
            "end_sessions_of_deactivated_user",
            "list_audit_events",
            "list_own_audit_events",
            "lock_admin_rows",
            "record_sign_in",
            "record_sign_out",
            "role_allows_scope",
            "scopes_above_role",
            // Organization keys.
            "create_org_api_key",
            "key_scopes_above_role",
            "list_org_api_keys",
            "revoke_org_api_key",
            "rotate_org_api_key",
            // Shared counters, the code exchange that names the code's user, throttled events.
            "add_to_shared_counters",
            "exchange_sign_in_code",
            "record_throttled_event",
            // Organizations, their members and invitations.
            "accept_invitation",
            "append_org_audit_event",
            "assert_not_last_org_owner",
            "assert_org_active",
            "change_member_role",
            "create_invitation",
            "create_organization",
            "deactivate_organization",
            "get_organization",
            "list_invitations",
            "list_members",
            "list_org_audit_events",
            "list_organizations",
            "lock_organization",
            "org_ids_for_current_user",
            "org_ids_for_current_user",
            "remove_member",
            "rename_organization",
            "revoke_invitation",
            "transfer_ownership",
          ].sort(),
        );
        expect(rows.filter((r) => !r.can)).toEqual([]);
      });

      it("refuses a write function to clients when they call it", async () => {
        const call = "select keygate.set_user_active($1, false)";
        expectDenied(await runner.as("anon", claimsFor("anon"), call, [f.owner]));
        expectDenied(await runner.as("authenticated", claimsFor("authenticated", f.owner), call, [f.owner]));
        expect(await runner.as("service_role", claimsFor("service_role"), call, [f.owner])).toMatchObject({ ok: true });
      });

      it("refuses the key lookups (the hot path's read, and the one with the ceiling) to clients", async () => {
        const [{ key_hash: hash }] = await runner.admin<{ key_hash: Buffer }>(
          "select key_hash from public.api_keys where user_id = $1",
          [f.owner],
        );
        for (const fn of ["lookup_api_key", "verify_api_key"]) {
          const call = `select user_id as owner from keygate.${fn}($1)`;
          expectDenied(await runner.as("anon", claimsFor("anon"), call, [hash]));
          expectDenied(await runner.as("authenticated", claimsFor("authenticated", f.owner), call, [hash]));
          expect(owners(await runner.as("service_role", claimsFor("service_role"), call, [hash]))).toEqual([f.owner]);
        }
      });

      it("keygate.current_user_id() names the caller to an authenticated user", async () => {
        const outcome = await runner.as(
          "authenticated",
          claimsFor("authenticated", f.owner),
          "select keygate.current_user_id() as owner",
        );
        expect(owners(outcome)).toEqual([f.owner]);
      });
    });

    describe("audit_events (append-only)", () => {
      const audit = {
        select: "select actor_id as owner from public.audit_events",
        insert:
          "insert into public.audit_events (action, outcome, actor_id) values ('forged', 'success', $1) returning actor_id as owner",
        update: "update public.audit_events set outcome = 'failure' where actor_id = $1 returning actor_id as owner",
        delete: "delete from public.audit_events where actor_id = $1 returning actor_id as owner",
      };
      it.each(["select", "insert", "update", "delete"] as const)("no client role may %s", async (op) => {
        const values = op === "select" ? [] : [f.owner];
        expectDenied(await runner.as("anon", claimsFor("anon"), audit[op], values));
        expectDenied(await runner.as("authenticated", claimsFor("authenticated", f.owner), audit[op], values));
      });
      it("service_role reads every event and may not insert, update or delete one", async () => {
        const seen = owners(await runner.as("service_role", claimsFor("service_role"), audit.select));
        expect(seen).toEqual(expect.arrayContaining([f.owner, f.other, f.linked]));
        for (const op of ["insert", "update", "delete"] as const) {
          expectDenied(await runner.as("service_role", claimsFor("service_role"), audit[op], [f.owner]));
        }
      });
    });

    describe("shared_counters (through keygate.add_to_shared_counters only)", () => {
      const counters = {
        select: "select bucket as owner from public.shared_counters",
        insert:
          "insert into public.shared_counters values ($1, 60, now(), 1, now() + interval '1 minute') returning bucket as owner",
        update: "update public.shared_counters set count = 1 where bucket = $1 returning bucket as owner",
        delete: "delete from public.shared_counters where bucket = $1 returning bucket as owner",
      };
      it.each(["select", "insert", "update", "delete"] as const)(
        "no role, service_role included, may %s",
        async (op) => {
          const values = op === "select" ? [] : [f.owner];
          expectDenied(await runner.as("anon", claimsFor("anon"), counters[op], values));
          expectDenied(await runner.as("authenticated", claimsFor("authenticated", f.owner), counters[op], values));
          expectDenied(await runner.as("service_role", claimsFor("service_role"), counters[op], values));
        },
      );
    });

    describe.each(ORG_TABLES)("%s (read by membership only)", (table) => {
      const write = {
        insert: `insert into public.${table} default values`,
        update: `update public.${table} set created_at = now()`,
        delete: `delete from public.${table}`,
      };
      it("anon cannot select", async () => {
        expectDenied(await runner.as("anon", claimsFor("anon"), `select 1 from public.${table}`));
      });
      it.each(["insert", "update", "delete"] as const)("no client role may %s", async (op) => {
        expectDenied(await runner.as("anon", claimsFor("anon"), write[op]));
        expectDenied(await runner.as("authenticated", claimsFor("authenticated", f.owner), write[op]));
      });
      it("an authenticated user who is a member of nothing sees no row", async () => {
        const [org] = await runner.admin<{ id: string }>(
          "insert into public.organizations (slug, name) values ($1, 'Matrix') returning id",
          [`matrix-${randomUUID().slice(0, 8)}`],
        );
        await runner.admin("insert into public.organization_members (org_id, user_id, role) values ($1, $2, 'owner')", [
          org.id,
          f.other,
        ]);
        await runner.admin(
          "insert into public.organization_invitations (org_id, email, role, token_hash, expires_at) values ($1, 'x@example.test', 'member', sha256(convert_to(gen_random_uuid()::text, 'utf8')), now() + interval '1 day')",
          [org.id],
        );
        const columns = table === "organization_invitations" ? "id" : "*";
        const outcome = await runner.as(
          "authenticated",
          claimsFor("authenticated", f.owner),
          `select ${columns} from public.${table}`,
        );
        expect(outcome).toMatchObject({ ok: true, rowCount: 0 });
      });
    });

    describe("tables and policies", () => {
      it("has row level security enabled on every table in public", async () => {
        const rows = await runner.admin<{ relname: string; relrowsecurity: boolean }>(
          `select relname, relrowsecurity from pg_class
            where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') order by relname`,
        );
        expect(rows.map((r) => r.relname)).toEqual([...TABLES, ...OTHER_TABLES].sort());
        expect(rows.filter((r) => !r.relrowsecurity)).toEqual([]);
      });

      it("has the service role insert and update policies on users", async () => {
        const rows = await runner.admin<{ policyname: string; cmd: string; roles: string }>(
          `select policyname, cmd, roles::text from pg_policies
            where schemaname = 'public' and tablename = 'users' and policyname like 'Enable %' order by policyname`,
        );
        expect(rows).toEqual([
          { policyname: "Enable insert for service role", cmd: "INSERT", roles: "{service_role}" },
          { policyname: "Enable update for service role", cmd: "UPDATE", roles: "{service_role}" },
        ]);
      });

      it("grants anon and authenticated no write privilege on any table", async () => {
        const rows = await runner.admin<{ grant: string }>(
          `select r || ' ' || p || ' ' || t as grant
             from unnest(array['anon', 'authenticated']) r,
                  unnest(array['insert', 'update', 'delete', 'truncate', 'references', 'trigger']) p,
                  unnest(array['public.users', 'public.user_identities', 'public.api_keys', 'public.jobs', 'public.sessions',
                               'public.user_capabilities', 'public.audit_events', 'public.sign_in_codes',
                               'public.shared_counters', 'public.organizations', 'public.organization_members',
                               'public.organization_invitations']) t
            where has_table_privilege(r, t, p) or (p in ('insert', 'update', 'references') and has_any_column_privilege(r, t, p))`,
        );
        expect(rows).toEqual([]);
      });
    });
  });
}
