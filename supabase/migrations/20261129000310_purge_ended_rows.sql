-- Purge ended sessions and long-ended API keys as new ones are written.
--
-- Why: nothing else ever deleted them, so `sessions` grew with every sign-in
-- and `api_keys` with every rotation. Each insert into a table now removes a
-- bounded batch (at most 100 rows) of that table's dead rows, so it works on
-- any Postgres without a scheduler, a backlog drains over a few writes, and
-- the verification hot path (one read) does no extra work:
--   - a session is deleted once it has expired (it can never work again);
--   - an API key is deleted 30 days after it was revoked or expired
--     (`least(revoked_at, expires_at)`, which for a rotated key is the end of
--     its grace period), so the owner still sees it in their list for a while.
-- Jobs a purged key created stay: `jobs.api_key_id` is `on delete set null`.
-- A purge that fails (say, a row another table still references) is skipped,
-- never the insert that triggered it.

-- Bounded waits: a busy table makes this migration fail fast instead of
-- queueing every query behind its lock.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

create index sessions_expires_at_idx on public.sessions (expires_at);
create index api_keys_ended_at_idx on public.api_keys ((least(revoked_at, expires_at)));

create function keygate.purge_expired_sessions() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  begin
    delete from public.sessions
     where id in (
       select id from public.sessions where expires_at < now()
        order by expires_at
        limit 100
        for update skip locked
     );
  exception when others then
    raise warning 'keygate: purging expired sessions failed (%)', sqlstate;
  end;
  return null;
end;
$$;

create function keygate.purge_ended_api_keys() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  begin
    delete from public.api_keys
     where id in (
       select id from public.api_keys
        where least(revoked_at, expires_at) < now() - interval '30 days'
        order by least(revoked_at, expires_at)
        limit 100
        for update skip locked
     );
  exception when others then
    raise warning 'keygate: purging ended API keys failed (%)', sqlstate;
  end;
  return null;
end;
$$;

-- Trigger functions cannot be called directly; the grant keeps "service_role
-- may execute every keygate function" true.
revoke execute on function keygate.purge_expired_sessions(), keygate.purge_ended_api_keys()
  from public, anon, authenticated;
grant execute on function keygate.purge_expired_sessions(), keygate.purge_ended_api_keys()
  to service_role;

create trigger sessions_purge_expired
  after insert on public.sessions
  for each statement execute function keygate.purge_expired_sessions();

create trigger api_keys_purge_ended
  after insert on public.api_keys
  for each statement execute function keygate.purge_ended_api_keys();
