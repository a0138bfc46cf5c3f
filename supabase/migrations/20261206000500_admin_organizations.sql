-- Platform operators see organizations and can deactivate (or reactivate) one.
--
-- Why: an organization is deactivated by its owner (keygate.deactivate_organization),
-- but a platform must also be able to stop one that abuses it, as it can a
-- user. Listing needs users.read and changing the active flag users.manage,
-- the same capabilities as for users; the rule joins
-- keygate.admin_required_capabilities (and its TypeScript twin,
-- functions/_shared/handlers/admin/required-capabilities.ts; a test checks
-- that they agree). The change locks the actor's row FOR SHARE (so a
-- capability taken away meanwhile is seen) and the organization's FOR UPDATE,
-- and is audited with the organization's id in the same transaction.

-- Bounded waits: the functions below lock rows of tables in use.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

create or replace function keygate.admin_required_capabilities(
  p_action text,
  p_target_role text default null,
  p_role text default null,
  p_capabilities text[] default null
) returns text[]
language plpgsql immutable
set search_path = ''
as $$
declare
  v_role_changes boolean := p_role is not null and p_role is distinct from p_target_role;
begin
  case p_action
    when 'list_users', 'get_user', 'list_orgs' then
      return array['users.read'];
    when 'read_audit' then
      return array['audit.read'];
    when 'revoke_key' then
      return array['keys.revoke_any'];
    when 'set_org_active' then
      return array['users.manage'];
    when 'set_active' then
      return case when p_target_role = 'admin' then array['users.manage', 'capabilities.grant'] else array['users.manage'] end;
    when 'update_user' then
      return array_remove(array[
        case when v_role_changes then 'users.manage' end,
        case when (v_role_changes and (p_role = 'admin' or coalesce(p_target_role = 'admin', false)))
                  or p_capabilities is not null
             then 'capabilities.grant' end
      ], null);
    else
      raise exception 'unknown admin action' using errcode = '22023';
  end case;
end;
$$;

-- Organizations whose name or slug contains p_query (all when null), by
-- name then id, at most p_limit (1-100), with their member count and owners'
-- emails. KG009 without users.read. No cursor: an operator narrows with p_query.
create function keygate.admin_list_organizations(
  p_actor_id uuid,
  p_query text default null,
  p_limit integer default 50
) returns table (
  id uuid,
  slug text,
  name text,
  created_at timestamptz,
  deactivated_at timestamptz,
  members integer,
  owners text[]
)
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  perform keygate.assert_capabilities(p_actor_id, keygate.admin_required_capabilities('list_orgs'));
  return query
    select o.id, o.slug, o.name, o.created_at, o.deactivated_at,
           (select count(*)::integer from public.organization_members m where m.org_id = o.id),
           array(select u.email from public.organization_members m join public.users u on u.id = m.user_id
                  where m.org_id = o.id and m.role = 'owner' order by u.email)
      from public.organizations o
     where p_query is null or strpos(lower(o.name), lower(p_query)) > 0 or strpos(o.slug, lower(p_query)) > 0
     order by o.name, o.id
     limit greatest(1, least(coalesce(p_limit, 50), 100));
end;
$$;

-- Deactivates (p_active false) or reactivates an organization. KG009 without
-- users.manage, KG004 for no such organization; no event when nothing changes.
create function keygate.admin_set_organization_active(
  p_actor_id uuid,
  p_org_id uuid,
  p_active boolean,
  p_client_address text default null,
  p_user_agent text default null
) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform 1 from public.users u where u.id = p_actor_id for share;
  perform keygate.assert_capabilities(p_actor_id, keygate.admin_required_capabilities('set_org_active'));
  perform 1 from public.organizations o where o.id = p_org_id for update;
  if not found then
    raise exception 'no such organization' using errcode = 'KG004';
  end if;
  update public.organizations o
     set deactivated_at = case when p_active then null else now() end
   where o.id = p_org_id and (o.deactivated_at is null) = (not p_active);
  if found then
    perform keygate.append_org_audit_event(case when p_active then 'org.reactivated' else 'org.deactivated' end,
      'success', p_actor_id, p_org_id, null, null, 'by_platform_admin', p_client_address, p_user_agent, '{}');
  end if;
end;
$$;

revoke execute on function keygate.admin_list_organizations(uuid, text, integer)
  from public, anon, authenticated;
grant execute on function keygate.admin_list_organizations(uuid, text, integer) to service_role;
revoke execute on function keygate.admin_set_organization_active(uuid, uuid, boolean, text, text)
  from public, anon, authenticated;
grant execute on function keygate.admin_set_organization_active(uuid, uuid, boolean, text, text) to service_role;
