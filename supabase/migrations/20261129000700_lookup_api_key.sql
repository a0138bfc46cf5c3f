-- The hot path reads the key as stored, plus its owner's role; the functions
-- apply the role ceiling themselves.
--
-- Why: every uncached key check ran keygate.verify_api_key, which applied the
-- ceiling inline with an `array(select ... unnest(k.scopes) with ordinality
-- ... order by n)` subquery. Measured with pgbench (16 clients, extended
-- protocol), that subquery cost about 10-15% of the function's throughput;
-- the same function returning the role and the stored scopes ran as fast as
-- a bare single-table select. The ceiling is a few array operations in
-- TypeScript (functions/_shared/keys/scopes.ts, the same rule as
-- keygate.role_allows_scope), cached with the verification anyway.
--
-- keygate.lookup_api_key is the new hot path. keygate.verify_api_key keeps
-- its signature and still returns only the scopes the owner's role allows,
-- now as a wrapper over lookup_api_key: function code deployed before this
-- migration keeps working, with the ceiling, while the new code rolls out.
-- It is no longer on the hot path.

-- Bounded waits: a busy table makes this migration fail fast instead of
-- queueing every query behind its lock.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- The hot path: one indexed read by hash. Returns a row only for a key that
-- is neither revoked (past its grace) nor expired, whose owner is active:
-- the key's scopes as stored (no role ceiling: the caller applies
-- keygate.role_allows_scope's rule to them) and the owner's role.
-- `valid_until` is when it stops being valid by itself (grace end or
-- expiry), so a cache never serves it past that. PL/pgSQL so its plan is
-- cached per session, as verify_api_key's was.
create function keygate.lookup_api_key(p_key_hash bytea)
returns table (
  key_id uuid,
  user_id uuid,
  scopes text[],
  role text,
  expires_at timestamptz,
  valid_until timestamptz,
  last_used_at timestamptz
)
language plpgsql stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
  return query
    select k.id, k.user_id, k.scopes, u.role, k.expires_at,
           least(k.revoked_at, k.expires_at), k.last_used_at
      from public.api_keys k
      join public.users u on u.id = k.user_id
     where k.key_hash = p_key_hash
       and (k.revoked_at is null or k.revoked_at > now())
       and (k.expires_at is null or k.expires_at > now())
       and u.is_active;
end;
$$;

-- Verification with the role ceiling, as before: keygate.lookup_api_key's
-- row with only the scopes the owner's current role allows
-- (keygate.role_allows_scope, per scope, in the stored order). No longer on
-- the hot path: kept, with its signature and columns, for function code
-- deployed before lookup_api_key and for SQL callers that want the ceiling
-- applied.
create or replace function keygate.verify_api_key(p_key_hash bytea)
returns table (
  key_id uuid,
  user_id uuid,
  scopes text[],
  expires_at timestamptz,
  valid_until timestamptz,
  last_used_at timestamptz
)
language plpgsql stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
  return query
    select l.key_id, l.user_id,
           array(select t.s from unnest(l.scopes) with ordinality as t(s, n)
                  where keygate.role_allows_scope(l.role, t.s)
                  order by t.n),
           l.expires_at, l.valid_until, l.last_used_at
      from keygate.lookup_api_key(p_key_hash) l;
end;
$$;

revoke execute on function
  keygate.lookup_api_key(bytea),
  keygate.verify_api_key(bytea)
  from public, anon, authenticated;
grant execute on function
  keygate.lookup_api_key(bytea),
  keygate.verify_api_key(bytea)
  to service_role;
