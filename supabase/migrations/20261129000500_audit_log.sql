-- The audit log: an append-only record of security events.
--
-- Why: operators must be able to tell who signed in (or was refused, and
-- why), who created, rotated or revoked which key, and who changed whose
-- role, capabilities or active flag. A record anyone could edit proves
-- nothing, so no client role may touch the table, the service role may only
-- read it and append through keygate.append_audit_event(), and a trigger
-- refuses every update, every truncate, and the delete of any event younger
-- than the retention period, whoever asks (the table owner included).
--
-- Retention: 365 days (keygate.audit_retention()). Each append purges at most
-- 100 events older than that, so the purge keeps pace with the log without
-- ever making one write slow.
--
-- What an event never holds: a key, a hash, a token, a cookie or an OAuth
-- code. `details` takes only the small whitelisted facts each action needs
-- (provider, reason code, old and new role, capabilities, key name).

-- Bounded waits: a busy table makes this migration fail fast instead of
-- queueing every query behind its lock.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

create table public.audit_events (
  id bigint generated always as identity primary key,
  occurred_at timestamptz not null default now(),
  -- Who did it (null: the system, the first-admin command, or an unknown
  -- visitor whose sign-in was refused). No foreign key: the record outlives
  -- the user, and `on delete set null` would be an update.
  actor_id uuid,
  -- Whose account or key it touched.
  target_user_id uuid,
  target_key_id uuid,
  action text not null check (action ~ '^[a-z][a-z_.]{1,63}$'),
  outcome text not null check (outcome in ('success', 'failure')),
  reason text check (reason ~ '^[a-z][a-z0-9_]{0,63}$'),
  client_address inet,
  user_agent text check (length(user_agent) <= 256),
  details jsonb not null default '{}' check (jsonb_typeof(details) = 'object' and length(details::text) <= 2048)
);
alter table public.audit_events enable row level security;
create index audit_events_occurred_at_idx on public.audit_events (occurred_at);
create index audit_events_target_idx on public.audit_events (target_user_id, id desc);
create index audit_events_actor_idx on public.audit_events (actor_id, id desc);

-- No client privilege and no policy: users read their own events through the
-- auth function, holders of audit.read everyone's through the admin function.
revoke all on table public.audit_events from public, anon, authenticated, service_role;
grant select on table public.audit_events to service_role;

create function keygate.audit_retention() returns interval
language sql immutable
set search_path = ''
as $$ select interval '365 days' $$;

-- Refuses what would rewrite history: any update, any truncate, and the
-- delete of an event younger than the retention period.
create function keygate.audit_events_append_only() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'DELETE' and old.occurred_at < now() - keygate.audit_retention() then
    return old;
  end if;
  raise exception 'the audit log is append-only' using errcode = '42501';
end;
$$;

create trigger audit_events_append_only
  before update or delete on public.audit_events
  for each row execute function keygate.audit_events_append_only();
create trigger audit_events_no_truncate
  before truncate on public.audit_events
  for each statement execute function keygate.audit_events_append_only();

-- Appends one event and purges at most 100 expired ones. Returns the new id.
create function keygate.append_audit_event(
  p_action text,
  p_outcome text,
  p_actor_id uuid default null,
  p_target_user_id uuid default null,
  p_target_key_id uuid default null,
  p_reason text default null,
  p_client_address text default null,
  p_user_agent text default null,
  p_details jsonb default '{}'
) returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id bigint;
  v_address inet;
begin
  -- An address that does not parse is dropped, not an error: the event matters more.
  begin
    v_address := nullif(p_client_address, '')::inet;
  exception when others then
    v_address := null;
  end;
  insert into public.audit_events
    (actor_id, target_user_id, target_key_id, action, outcome, reason, client_address, user_agent, details)
  values
    (p_actor_id, p_target_user_id, p_target_key_id, p_action, p_outcome, p_reason, v_address,
     left(p_user_agent, 256), coalesce(p_details, '{}'))
  returning id into v_id;
  delete from public.audit_events
   where id in (
     select id from public.audit_events
      where occurred_at < now() - keygate.audit_retention()
      order by occurred_at
      limit 100
   );
  return v_id;
end;
$$;

-- What a reader sees of an event.
create type keygate.audit_event_info as (
  id bigint,
  occurred_at timestamptz,
  actor_id uuid,
  actor_email text,
  target_user_id uuid,
  target_email text,
  target_key_id uuid,
  action text,
  outcome text,
  reason text,
  client_address text,
  user_agent text,
  details jsonb
);

-- Events newest first, below the cursor `p_before_id`, filtered by any of
-- actor, target user, either of them (`p_user_id`: a user's own activity),
-- action and outcome. At most p_limit (1..101: a page of 100 and one more, to know whether another page follows) rows.
create function keygate.list_audit_events(
  p_before_id bigint default null,
  p_limit integer default 50,
  p_user_id uuid default null,
  p_actor_id uuid default null,
  p_target_user_id uuid default null,
  p_action text default null,
  p_outcome text default null
) returns setof keygate.audit_event_info
language sql stable
security definer
set search_path = ''
as $$
  select e.id, e.occurred_at, e.actor_id, a.email, e.target_user_id, t.email, e.target_key_id,
         e.action, e.outcome, e.reason, host(e.client_address), e.user_agent, e.details
    from public.audit_events e
    left join public.users a on a.id = e.actor_id
    left join public.users t on t.id = e.target_user_id
   where (p_before_id is null or e.id < p_before_id)
     and (p_user_id is null or e.actor_id = p_user_id or e.target_user_id = p_user_id)
     and (p_actor_id is null or e.actor_id = p_actor_id)
     and (p_target_user_id is null or e.target_user_id = p_target_user_id)
     and (p_action is null or e.action = p_action)
     and (p_outcome is null or e.outcome = p_outcome)
   order by e.id desc
   limit greatest(1, least(coalesce(p_limit, 50), 101))
$$;

revoke execute on function
  keygate.audit_retention(),
  keygate.audit_events_append_only(),
  keygate.append_audit_event(text, text, uuid, uuid, uuid, text, text, text, jsonb),
  keygate.list_audit_events(bigint, integer, uuid, uuid, uuid, text, text)
  from public, anon, authenticated;
-- The trigger function cannot be called except as a trigger; the grant only
-- keeps "service_role executes every keygate function" true.
grant execute on function
  keygate.audit_retention(),
  keygate.audit_events_append_only(),
  keygate.append_audit_event(text, text, uuid, uuid, uuid, text, text, text, jsonb),
  keygate.list_audit_events(bigint, integer, uuid, uuid, uuid, text, text)
  to service_role;
