-- Keygate's security guarantees on the schema itself: Row Level Security,
-- policies, table, column, schema and function privileges.
--
-- Run with pg_prove against any database our migrations were applied to
-- (local Postgres, PGlite-backed dev database, or a hosted Supabase project):
--   pg_prove -h <host> -U postgres -d <db> supabase/tests/database/*.test.sql
-- or, with the Supabase CLI's local stack, `supabase test db`.
begin;
create extension if not exists pgtap;

select plan(42);

-- Row Level Security on every table.
select ok((select relrowsecurity from pg_class where oid = 'public.users'::regclass), 'RLS is enabled on public.users');
select ok((select relrowsecurity from pg_class where oid = 'public.user_identities'::regclass), 'RLS is enabled on public.user_identities');
select ok((select relrowsecurity from pg_class where oid = 'public.api_keys'::regclass), 'RLS is enabled on public.api_keys');
select ok((select relrowsecurity from pg_class where oid = 'public.jobs'::regclass), 'RLS is enabled on public.jobs');
select ok((select relrowsecurity from pg_class where oid = 'public.sessions'::regclass), 'RLS is enabled on public.sessions');
select is_empty(
  $$ select relname from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') and not relrowsecurity $$,
  'every table in public has RLS enabled'
);

-- Policies.
select policies_are('public', 'users',
  array['Enable insert for service role', 'Enable update for service role', 'Users can read their own profile'],
  'users has the service role write policies and the own-profile read policy');
select policy_roles_are('public', 'users', 'Enable insert for service role', array['service_role']);
select policy_cmd_is('public', 'users', 'Enable insert for service role', 'insert', 'policy "Enable insert for service role" is for insert');
select policy_roles_are('public', 'users', 'Enable update for service role', array['service_role']);
select policy_cmd_is('public', 'users', 'Enable update for service role', 'update', 'policy "Enable update for service role" is for update');
select policy_roles_are('public', 'users', 'Users can read their own profile', array['authenticated']);
select policy_cmd_is('public', 'users', 'Users can read their own profile', 'select', 'policy "Users can read their own profile" is for select');
select policies_are('public', 'user_identities', array['Users can read their own identities']);
select policies_are('public', 'api_keys', array['Users can read their own keys', 'Members can read their organizations'' keys']);
select policies_are('public', 'jobs', array['Users can read their own jobs', 'Members can read their organizations'' jobs']);
select policies_are('public', 'sessions', array[]::name[], 'sessions has no policy: no client reaches it');

-- Table privileges: anon none, authenticated select where owners may read.
select table_privs_are('public', 'users', 'anon', array[]::text[]);
select table_privs_are('public', 'user_identities', 'anon', array[]::text[]);
select table_privs_are('public', 'api_keys', 'anon', array[]::text[]);
select table_privs_are('public', 'jobs', 'anon', array[]::text[]);
select table_privs_are('public', 'sessions', 'anon', array[]::text[]);
select table_privs_are('public', 'users', 'authenticated', array['SELECT']);
select table_privs_are('public', 'user_identities', 'authenticated', array['SELECT']);
select table_privs_are('public', 'api_keys', 'authenticated', array[]::text[],
  'authenticated holds no table-wide privilege on api_keys (column privileges only)');
select table_privs_are('public', 'jobs', 'authenticated', array['SELECT']);
select table_privs_are('public', 'sessions', 'authenticated', array[]::text[]);
select table_privs_are('public', 'users', 'service_role', array['DELETE', 'INSERT', 'REFERENCES', 'SELECT', 'TRIGGER', 'TRUNCATE', 'UPDATE']);
select table_privs_are('public', 'api_keys', 'service_role', array['DELETE', 'INSERT', 'REFERENCES', 'SELECT', 'TRIGGER', 'TRUNCATE', 'UPDATE']);
select table_privs_are('public', 'sessions', 'service_role', array['DELETE', 'INSERT', 'REFERENCES', 'SELECT', 'TRIGGER', 'TRUNCATE', 'UPDATE']);

-- Column privileges: nobody but service_role reads a key hash.
select column_privs_are('public', 'api_keys', 'key_hash', 'authenticated', array[]::text[], 'authenticated cannot read api_keys.key_hash');
select column_privs_are('public', 'api_keys', 'key_hash', 'anon', array[]::text[], 'anon cannot read api_keys.key_hash');
select column_privs_are('public', 'api_keys', 'start', 'authenticated', array['SELECT'], 'authenticated may read api_keys.start');
select column_privs_are('public', 'api_keys', 'key_hash', 'service_role', array['INSERT', 'REFERENCES', 'SELECT', 'UPDATE']);

-- Function privileges: the keygate schema is private, its functions are for service_role.
select schema_privs_are('keygate', 'anon', array[]::text[]);
select schema_privs_are('keygate', 'authenticated', array['USAGE']);
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.pronamespace in ('keygate'::regnamespace, 'public'::regnamespace)
        and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
        and has_function_privilege('anon', p.oid, 'execute') $$,
  'anon can execute no function in keygate or public'
);
select results_eq(
  $$ select p.oid::regprocedure::text from pg_proc p
      where p.pronamespace in ('keygate'::regnamespace, 'public'::regnamespace)
        and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
        and has_function_privilege('authenticated', p.oid, 'execute')
      order by 1 $$,
  array['keygate.current_user_id()', 'keygate.org_ids_for_current_user()', 'keygate.org_ids_for_current_user(text[])'],
  'authenticated can execute keygate.current_user_id(), the organization policies'' lookups, and nothing else in keygate or public'
);
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.pronamespace = 'keygate'::regnamespace
        and p.proname not in ('touch_updated_at', 'lock_key_owner', 'lock_org_key_owner', 'lock_org_key_for_change', 'org_api_key_info') -- internal helpers
        and not has_function_privilege('service_role', p.oid, 'execute') $$,
  'service_role can execute every keygate function but the internal helpers'
);
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.pronamespace = 'keygate'::regnamespace and p.prosecdef
        and not coalesce(p.proconfig @> array['search_path=""'], false) $$,
  'every security definer function in keygate pins search_path to empty'
);
select isnt_empty(
  $$ select 1 from pg_proc where pronamespace = 'keygate'::regnamespace and proname = 'verify_api_key' $$,
  'keygate.verify_api_key exists'
);
select isnt_empty(
  $$ select 1 from pg_proc where pronamespace = 'keygate'::regnamespace and proname = 'lookup_api_key' $$,
  'keygate.lookup_api_key exists'
);

select * from finish();
rollback;
