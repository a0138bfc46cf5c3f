-- One audit event for each bucket and window that a limit throttled.
--
-- Why: every refused sign-in writes an audit event, so a flood of refusals
-- grew the log without bound but for its retention. Refused sign-ins and
-- refused code exchanges are now limited per client address and per account
-- (functions/_shared/auth/refusal-limiter.ts): past the limit an attempt is
-- answered 429 and not recorded one by one. Instead one
-- `<action>.throttled` event per bucket and window says so, with the count
-- so far. Any isolate that throttles may ask to record it; this function
-- claims the (bucket, window) in public.shared_counters, whose first insert
-- wins, and appends the event only for the claim that won, so the cluster
-- records each burst once.

-- Bounded waits: a busy table makes this migration fail fast instead of
-- queueing every query behind its lock.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- Claims `p_claim` for the window (p_window_start, a multiple of
-- p_window_seconds since the epoch) and, if this call claimed it, appends the
-- event. Returns whether it did. Refuses (22023) an action that does not end
-- in `.throttled`.
create function keygate.record_throttled_event(
  p_claim text,
  p_window_seconds integer,
  p_window_start bigint,
  p_action text,
  p_target_user_id uuid default null,
  p_client_address text default null,
  p_user_agent text default null,
  p_details jsonb default '{}'
) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  if p_action is null or p_action !~ '^[a-z][a-z_]*\.throttled$' then
    raise exception 'record_throttled_event is for <action>.throttled events' using errcode = '22023';
  end if;
  -- Kept one window past its end, like the counts it summarises.
  insert into public.shared_counters (bucket, window_seconds, window_start, count, expires_at)
  values (p_claim, p_window_seconds, to_timestamp(p_window_start), 1,
          to_timestamp(p_window_start + 2 * p_window_seconds::bigint))
  on conflict (bucket, window_seconds, window_start) do nothing;
  if not found then
    return false;
  end if;
  perform keygate.append_audit_event(p_action, 'failure', null, p_target_user_id, null, 'rate_limited',
    p_client_address, p_user_agent, coalesce(p_details, '{}'));
  return true;
end;
$$;

revoke execute on function keygate.record_throttled_event(text, integer, bigint, text, uuid, text, text, jsonb)
  from public, anon, authenticated;
grant execute on function keygate.record_throttled_event(text, integer, bigint, text, uuid, text, text, jsonb)
  to service_role;
