-- Deactivation ends every session, instead of pausing it.
--
-- Why: get_session slid a session's expiry before it checked that its user
-- was active, and set_user_active(false) only flipped the flag, so a copied
-- session cookie was kept alive while the account was disabled and worked
-- again on reactivation. Now any path that turns a user off (the admin API,
-- set_user_active, SQL by hand) deletes their sessions in the same
-- transaction, and get_session reads nothing, and slides nothing, for an
-- inactive user. Reactivation therefore brings back no session: the user
-- signs in again. API keys are not revoked by deactivation: they stop
-- verifying while the owner is inactive and verify again on reactivation,
-- unless they were revoked or expired meanwhile.

-- Bounded waits: a busy table makes this migration fail fast instead of
-- queueing every query behind its lock.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

create function keygate.end_sessions_of_deactivated_user() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from public.sessions where user_id = new.id;
  return null;
end;
$$;

create trigger users_end_sessions_on_deactivation
  after update of is_active on public.users
  for each row when (old.is_active and not new.is_active)
  execute function keygate.end_sessions_of_deactivated_user();

create or replace function keygate.get_session(p_token_hash bytea, p_ttl_seconds integer, p_max_lifetime_seconds integer)
returns table (user_id uuid, email text, name text, image_url text, role text, expires_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_session public.sessions;
  v_ends_at timestamptz;
begin
  select s.* into v_session from public.sessions s
    join public.users u on u.id = s.user_id
   where s.token_hash = p_token_hash and s.expires_at > now() and u.is_active;
  if not found then
    return;
  end if;
  v_ends_at := v_session.created_at + make_interval(secs => p_max_lifetime_seconds);
  if v_ends_at <= now() then
    return;
  end if;
  if v_session.last_seen_at < now() - interval '1 minute' or v_session.expires_at > v_ends_at then
    update public.sessions s
       set last_seen_at = now(),
           expires_at = least(v_ends_at, now() + make_interval(secs => p_ttl_seconds))
     where s.id = v_session.id
     returning * into v_session;
  end if;
  return query
    select u.id, u.email, u.name, u.image_url, u.role, v_session.expires_at
      from public.users u where u.id = v_session.user_id and u.is_active;
end;
$$;

revoke execute on function keygate.end_sessions_of_deactivated_user() from public, anon, authenticated;
-- A trigger function cannot be called directly; the grant keeps "service_role
-- executes every keygate function" true.
grant execute on function keygate.end_sessions_of_deactivated_user() to service_role;
