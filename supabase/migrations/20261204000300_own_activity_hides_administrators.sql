-- A user's own activity says that an administrator acted, never who, from
-- where or with what.
--
-- Why: `GET /auth/activity` read keygate.list_audit_events, which returns
-- every event in full, so a user saw, for each change an admin made to them
-- (role, capabilities, deactivation, reactivation, revocation of their key),
-- that admin's id, email, client address and user agent. A user may know that
-- an administrator acted, when, and what changed; the administrator's
-- identity, address and device are for holders of audit.read only.
--
-- keygate.list_own_audit_events is the one function the own view reads, and
-- the redaction is in its query, so no code path above it can show what it
-- never returns. The rule is one comparison: an event whose actor is not the
-- user (an administrator, or no one: Keygate itself, such as the role a new
-- account gets, or the operator's first-admin command) comes back with no
-- actor id or email, no client address and no user agent, and `actor_type`
-- says which kind of actor it was. The user's own events keep everything.
-- The action, outcome, reason, target and details stay: details hold only
-- non-identifying facts (old and new role or capabilities, a key's name).
--
-- keygate.list_audit_events is unchanged: the admin view keeps everything.

-- Bounded waits: the functions below read tables in use.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- What a user sees of an event in their own activity. `actor_type`: 'user'
-- (the user themselves: actor_id and actor_email are theirs), 'administrator'
-- (someone else) or 'system' (no actor).
create type keygate.own_audit_event_info as (
  id bigint,
  occurred_at timestamptz,
  actor_type text,
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

-- The events p_user_id did or that touched them, newest first, below the
-- cursor p_before_id, filtered by action and outcome, at most p_limit
-- (1..101) rows; another actor's identity, address and agent are never
-- returned. No rows for a null p_user_id.
create function keygate.list_own_audit_events(
  p_user_id uuid,
  p_before_id bigint default null,
  p_limit integer default 50,
  p_action text default null,
  p_outcome text default null
) returns setof keygate.own_audit_event_info
language sql stable
security definer
set search_path = ''
as $$
  select e.id, e.occurred_at,
         case when e.actor_id = p_user_id then 'user' when e.actor_id is null then 'system' else 'administrator' end,
         case when e.actor_id = p_user_id then e.actor_id end,
         case when e.actor_id = p_user_id then a.email end,
         e.target_user_id, t.email, e.target_key_id, e.action, e.outcome, e.reason,
         case when e.actor_id = p_user_id then host(e.client_address) end,
         case when e.actor_id = p_user_id then e.user_agent end,
         e.details
    from public.audit_events e
    left join public.users a on a.id = e.actor_id and e.actor_id = p_user_id
    left join public.users t on t.id = e.target_user_id
   where (e.actor_id = p_user_id or e.target_user_id = p_user_id)
     and (p_before_id is null or e.id < p_before_id)
     and (p_action is null or e.action = p_action)
     and (p_outcome is null or e.outcome = p_outcome)
   order by e.id desc
   limit greatest(1, least(coalesce(p_limit, 50), 101))
$$;

revoke execute on function keygate.list_own_audit_events(uuid, bigint, integer, text, text)
  from public, anon, authenticated;
grant execute on function keygate.list_own_audit_events(uuid, bigint, integer, text, text) to service_role;
