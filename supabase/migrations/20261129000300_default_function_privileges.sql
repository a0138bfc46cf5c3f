-- New functions are not executable by PUBLIC unless granted.
--
-- Why: `alter default privileges in schema keygate revoke execute on functions
-- from public` (20261123000100_users.sql) changes nothing. Per-schema default
-- privileges can only add to the global ones, and the global default grants
-- EXECUTE on every new function to PUBLIC, that is to anon and authenticated
-- (which have USAGE on `keygate`). Every function so far revokes it one by
-- one; this makes a future function that forgets to do so safe as well.
--
-- The default is global, for the roles that create functions: the role that
-- runs the migrations (`postgres` on hosted Supabase and locally), and
-- `postgres` when another role that may act as it runs them. Grants that a
-- schema adds on top (Supabase's own in `public`, to anon, authenticated and
-- service_role) are untouched: only PUBLIC loses its implicit EXECUTE.

-- Bounded waits: a busy table makes this migration fail fast instead of
-- queueing every query behind its lock.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

alter default privileges revoke execute on functions from public;

do $$
begin
  if current_user <> 'postgres'
     and exists (select 1 from pg_roles where rolname = 'postgres')
     and pg_has_role(current_user, 'postgres', 'MEMBER') then
    alter default privileges for role postgres revoke execute on functions from public;
  end if;
end;
$$;
