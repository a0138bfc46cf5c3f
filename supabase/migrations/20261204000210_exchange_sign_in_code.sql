-- A code exchange that says whose code it refused.
--
-- Why: POST /auth/token now limits refused exchanges per account as well as
-- per client address, and records a refused exchange of a code that exists
-- (its verifier, origin or expiry was wrong, or its user is no longer
-- active: the code may have leaked). keygate.redeem_sign_in_code returns no
-- row on any refusal, so the function could not tell an unknown code from a
-- real user's. This one redeems exactly as it does, in one statement, and
-- returns the code's user whether or not it redeemed it; no row for a code
-- that does not exist. keygate.redeem_sign_in_code stays, for function code
-- deployed before this migration.

-- Bounded waits: a busy table makes this migration fail fast instead of
-- queueing every query behind its lock.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- Deletes the code and creates a session (token hash p_token_hash) for its
-- user only when the code exists, has not expired, matches the challenge and
-- origin, and the user is active; `redeemed` says whether it did. Two
-- concurrent exchanges of one code cannot both redeem it: the second finds
-- the row deleted, and answers the code's user with `redeemed` false.
create function keygate.exchange_sign_in_code(
  p_code_hash bytea,
  p_code_challenge text,
  p_origin text,
  p_token_hash bytea,
  p_ttl_seconds integer
) returns table (user_id uuid, redeemed boolean)
language sql
security definer
set search_path = ''
as $$
  with code as (
    select c.user_id from public.sign_in_codes c where c.code_hash = p_code_hash
  ),
  used as (
    delete from public.sign_in_codes c
     where c.code_hash = p_code_hash
       and c.code_challenge = p_code_challenge
       and c.origin = p_origin
       and c.expires_at > now()
       and exists (select 1 from public.users u where u.id = c.user_id and u.is_active)
    returning c.user_id
  ),
  session as (
    insert into public.sessions (user_id, token_hash, expires_at)
    select used.user_id, p_token_hash, now() + make_interval(secs => p_ttl_seconds) from used
    returning sessions.user_id
  )
  select code.user_id, exists (select 1 from session) from code
$$;

revoke execute on function keygate.exchange_sign_in_code(bytea, text, text, bytea, integer)
  from public, anon, authenticated;
grant execute on function keygate.exchange_sign_in_code(bytea, text, text, bytea, integer)
  to service_role;
