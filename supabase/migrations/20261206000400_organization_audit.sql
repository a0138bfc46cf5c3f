-- An organization's own audit log, for its owners and admins.
--
-- Why: every change to an organization is recorded with its org_id
-- (20261206000300_organization_functions.sql), and the people who run the
-- organization need to see who changed what. Members of one organization see
-- each other's names and emails already (keygate.list_members), so the
-- actor and target are named; their client addresses and user agents are
-- not: those stay in the platform's audit log (GET /admin/audit), as in a
-- user's own activity. Only events that carry the organization's id are
-- listed, so nothing of another organization, and nothing of a member's
-- personal keys or sign-ins, shows here.

-- Bounded waits, as in every migration.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- The events of p_org_id, newest first, below the cursor p_before_id,
-- filtered by action and outcome, at most p_limit (1-101). KG004 when
-- p_actor_id is not a member (a stranger learns nothing), KG014 for a member
-- who is neither owner nor admin.
create function keygate.list_org_audit_events(
  p_actor_id uuid,
  p_org_id uuid,
  p_before_id bigint default null,
  p_limit integer default 50,
  p_action text default null,
  p_outcome text default null
) returns setof keygate.own_audit_event_info
language plpgsql stable
security definer
set search_path = ''
as $$
declare
  v_role text;
begin
  select m.role into v_role from public.organization_members m
   where m.org_id = p_org_id and m.user_id = p_actor_id;
  if v_role is null then
    raise exception 'no such organization' using errcode = 'KG004';
  end if;
  if v_role not in ('owner', 'admin') then
    raise exception 'only owners and admins read the organization''s audit log' using errcode = 'KG014';
  end if;
  return query
    select e.id, e.occurred_at,
           case when e.actor_id is null then 'system' else 'user' end,
           e.actor_id, a.email,
           e.target_user_id, t.email, e.target_key_id, e.action, e.outcome, e.reason,
           null::text, null::text,
           e.details
      from public.audit_events e
      left join public.users a on a.id = e.actor_id
      left join public.users t on t.id = e.target_user_id
     where e.org_id = p_org_id
       and (p_before_id is null or e.id < p_before_id)
       and (p_action is null or e.action = p_action)
       and (p_outcome is null or e.outcome = p_outcome)
     order by e.id desc
     limit greatest(1, least(coalesce(p_limit, 50), 101));
end;
$$;

revoke execute on function keygate.list_org_audit_events(uuid, uuid, bigint, integer, text, text)
  from public, anon, authenticated;
grant execute on function keygate.list_org_audit_events(uuid, uuid, bigint, integer, text, text) to service_role;
