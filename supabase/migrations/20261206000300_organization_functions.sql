-- The organization API: create, read, rename and deactivate organizations,
-- change and remove members, transfer ownership, and invite.
--
-- Why: the orgs function decides nothing about membership itself; these
-- functions are the authority, as the admin functions are for users
-- (20261204000310_admin_decisions_under_lock.sql). Every function that
-- changes an organization or its members first locks the organization's row
-- FOR UPDATE (keygate.lock_organization), then reads the actor's role and the
-- target's as they are under the lock, so the changes of one organization
-- are serialized: two owners demoting each other, or leaving, at the same
-- moment cannot leave it without an owner (KG010). The invitation row is
-- locked after the organization's, the same order everywhere, so acceptance
-- and revocation cannot deadlock.
--
-- Errors: KG004 when the actor is not a member or there is no such
-- organization (a non-member learns nothing), KG014 when the actor's role in
-- it does not allow the change, KG011 when the target is not a member, KG010
-- when the change would leave no owner, KG013 when the organization is
-- deactivated, KG012 for any invitation that cannot be accepted (one code),
-- KG001 for an inactive user, 22023 for a value out of range; a taken slug is
-- the unique violation (23505).
--
-- Every change writes one audit event (keygate.append_org_audit_event) with
-- the actor, the organization and the target; details hold only a role, the
-- old role, an invitation's id and its address's domain, never a token.

-- Bounded waits: the functions below lock rows of tables in use.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- Locks the organization's row FOR UPDATE and returns the actor's role in it.
-- Raises KG004 when there is no such organization or the actor is not a
-- member. Internal: called first by every function that changes one.
create function keygate.lock_organization(p_actor_id uuid, p_org_id uuid) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_role text;
begin
  perform 1 from public.organizations o where o.id = p_org_id for update;
  if found then
    select m.role into v_role from public.organization_members m
     where m.org_id = p_org_id and m.user_id = p_actor_id;
  end if;
  if v_role is null then
    raise exception 'no such organization' using errcode = 'KG004';
  end if;
  return v_role;
end;
$$;

-- Raises KG013 when the organization is deactivated.
create function keygate.assert_org_active(p_org_id uuid) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select 1 from public.organizations o where o.id = p_org_id and o.deactivated_at is not null) then
    raise exception 'this organization is deactivated' using errcode = 'KG013';
  end if;
end;
$$;

-- Raises KG010 when p_user_id is an owner of the organization and no other
-- member is. Call after keygate.lock_organization, so it holds until commit.
create function keygate.assert_not_last_org_owner(p_org_id uuid, p_user_id uuid) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select 1 from public.organization_members m
              where m.org_id = p_org_id and m.user_id = p_user_id and m.role = 'owner')
     and not exists (select 1 from public.organization_members m
                      where m.org_id = p_org_id and m.user_id <> p_user_id and m.role = 'owner') then
    raise exception 'an organization needs an owner' using errcode = 'KG010';
  end if;
end;
$$;

-- Creates an organization with p_user_id as its owner. Raises KG004 for an
-- unknown user, KG001 for an inactive one, 23505 for a taken slug, 23514 for
-- a slug or name the table refuses.
create function keygate.create_organization(
  p_user_id uuid,
  p_name text,
  p_slug text,
  p_client_address text default null,
  p_user_agent text default null
) returns table (id uuid, slug text, name text, role text)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_active boolean;
  v_org public.organizations;
begin
  select u.is_active into v_active from public.users u where u.id = p_user_id for share;
  if not found then
    raise exception 'no such user' using errcode = 'KG004';
  elsif not v_active then
    raise exception 'user is inactive' using errcode = 'KG001';
  end if;
  insert into public.organizations (slug, name, created_by)
  values (p_slug, p_name, p_user_id)
  returning * into v_org;
  insert into public.organization_members (org_id, user_id, role, added_by)
  values (v_org.id, p_user_id, 'owner', p_user_id);
  perform keygate.append_org_audit_event('org.created', 'success', p_user_id, v_org.id, p_user_id, null, null,
    p_client_address, p_user_agent, jsonb_build_object('role', 'owner'));
  return query select v_org.id, v_org.slug, v_org.name, 'owner'::text;
end;
$$;

-- The organizations p_user_id belongs to, with their role, by name.
create function keygate.list_organizations(p_user_id uuid)
returns table (id uuid, slug text, name text, role text, deactivated_at timestamptz)
language sql stable
security definer
set search_path = ''
as $$
  select o.id, o.slug, o.name, m.role, o.deactivated_at
    from public.organization_members m
    join public.organizations o on o.id = m.org_id
   where m.user_id = p_user_id
   order by o.name, o.id
$$;

-- One organization of p_user_id's, with their role. Raises KG004 when there
-- is no such organization or they are not a member.
create function keygate.get_organization(p_user_id uuid, p_org_id uuid)
returns table (id uuid, slug text, name text, role text, created_at timestamptz, deactivated_at timestamptz)
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  return query
    select o.id, o.slug, o.name, m.role, o.created_at, o.deactivated_at
      from public.organization_members m
      join public.organizations o on o.id = m.org_id
     where m.user_id = p_user_id and m.org_id = p_org_id;
  if not found then
    raise exception 'no such organization' using errcode = 'KG004';
  end if;
end;
$$;

-- Renames an organization: owner or admin (KG014), active (KG013). The same
-- name is no change and no event.
create function keygate.rename_organization(
  p_actor_id uuid,
  p_org_id uuid,
  p_name text,
  p_client_address text default null,
  p_user_agent text default null
) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_role text := keygate.lock_organization(p_actor_id, p_org_id);
begin
  if v_role not in ('owner', 'admin') then
    raise exception 'your role in this organization does not allow this' using errcode = 'KG014';
  end if;
  perform keygate.assert_org_active(p_org_id);
  update public.organizations o set name = p_name
   where o.id = p_org_id and o.name is distinct from p_name;
  if found then
    perform keygate.append_org_audit_event('org.renamed', 'success', p_actor_id, p_org_id, null, null, null,
      p_client_address, p_user_agent, '{}');
  end if;
end;
$$;

-- Deactivates an organization: owner only (KG014). Deactivating it again is
-- not an error (nor a second event).
create function keygate.deactivate_organization(
  p_actor_id uuid,
  p_org_id uuid,
  p_client_address text default null,
  p_user_agent text default null
) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_role text := keygate.lock_organization(p_actor_id, p_org_id);
begin
  if v_role <> 'owner' then
    raise exception 'your role in this organization does not allow this' using errcode = 'KG014';
  end if;
  update public.organizations o set deactivated_at = now()
   where o.id = p_org_id and o.deactivated_at is null;
  if found then
    perform keygate.append_org_audit_event('org.deactivated', 'success', p_actor_id, p_org_id, null, null, null,
      p_client_address, p_user_agent, '{}');
  end if;
end;
$$;

-- The members of an organization, for any member of it (KG004 otherwise),
-- oldest first.
create function keygate.list_members(p_actor_id uuid, p_org_id uuid)
returns table (user_id uuid, email text, name text, role text, created_at timestamptz)
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  if not exists (select 1 from public.organization_members m where m.org_id = p_org_id and m.user_id = p_actor_id) then
    raise exception 'no such organization' using errcode = 'KG004';
  end if;
  return query
    select m.user_id, u.email, u.name, m.role, m.created_at
      from public.organization_members m
      join public.users u on u.id = m.user_id
     where m.org_id = p_org_id
     order by m.created_at, m.user_id;
end;
$$;

-- Changes a member's role and returns the old one. An owner may set any role
-- on anyone; an admin may move members and admins between 'admin' and
-- 'member' only (KG014 otherwise, as for a member). Raises 22023 for an
-- unknown role, KG011 when the target is not a member, KG010 when it would
-- demote the last owner. The same role is no change and no event.
create function keygate.change_member_role(
  p_actor_id uuid,
  p_org_id uuid,
  p_user_id uuid,
  p_role text,
  p_client_address text default null,
  p_user_agent text default null
) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_actor_role text;
  v_old_role text;
begin
  if p_role is null or p_role not in ('owner', 'admin', 'member') then
    raise exception 'unknown role' using errcode = '22023';
  end if;
  v_actor_role := keygate.lock_organization(p_actor_id, p_org_id);
  if v_actor_role = 'member' then
    raise exception 'your role in this organization does not allow this' using errcode = 'KG014';
  end if;
  select m.role into v_old_role from public.organization_members m
   where m.org_id = p_org_id and m.user_id = p_user_id;
  if v_old_role is null then
    raise exception 'not a member of this organization' using errcode = 'KG011';
  end if;
  if v_actor_role = 'admin' and (v_old_role = 'owner' or p_role = 'owner') then
    raise exception 'your role in this organization does not allow this' using errcode = 'KG014';
  end if;
  if v_old_role = p_role then
    return v_old_role;
  end if;
  perform keygate.assert_not_last_org_owner(p_org_id, p_user_id);
  update public.organization_members m set role = p_role
   where m.org_id = p_org_id and m.user_id = p_user_id;
  perform keygate.append_org_audit_event('org.member_role_changed', 'success', p_actor_id, p_org_id, p_user_id,
    null, null, p_client_address, p_user_agent, jsonb_build_object('role', p_role, 'old_role', v_old_role));
  return v_old_role;
end;
$$;

-- Removes a member. p_actor_id = p_user_id is leaving, which any role may do
-- (org.member_left); otherwise an owner removes anyone and an admin members
-- only (KG014 otherwise). Raises KG011 when the target is not a member, KG010
-- when they are the last owner.
create function keygate.remove_member(
  p_actor_id uuid,
  p_org_id uuid,
  p_user_id uuid,
  p_client_address text default null,
  p_user_agent text default null
) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_actor_role text := keygate.lock_organization(p_actor_id, p_org_id);
  v_role text;
begin
  if p_actor_id is distinct from p_user_id and v_actor_role = 'member' then
    raise exception 'your role in this organization does not allow this' using errcode = 'KG014';
  end if;
  select m.role into v_role from public.organization_members m
   where m.org_id = p_org_id and m.user_id = p_user_id;
  if v_role is null then
    raise exception 'not a member of this organization' using errcode = 'KG011';
  end if;
  if p_actor_id is distinct from p_user_id and v_actor_role = 'admin' and v_role <> 'member' then
    raise exception 'your role in this organization does not allow this' using errcode = 'KG014';
  end if;
  perform keygate.assert_not_last_org_owner(p_org_id, p_user_id);
  delete from public.organization_members m where m.org_id = p_org_id and m.user_id = p_user_id;
  perform keygate.append_org_audit_event(
    case when p_actor_id = p_user_id then 'org.member_left' else 'org.member_removed' end,
    'success', p_actor_id, p_org_id, p_user_id, null, null, p_client_address, p_user_agent,
    jsonb_build_object('old_role', v_role));
end;
$$;

-- Makes p_user_id an owner and the actor, who must be an owner (KG014), an
-- admin. Raises KG011 when the target is not a member, 22023 when the target
-- is the actor.
create function keygate.transfer_ownership(
  p_actor_id uuid,
  p_org_id uuid,
  p_user_id uuid,
  p_client_address text default null,
  p_user_agent text default null
) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_actor_role text := keygate.lock_organization(p_actor_id, p_org_id);
  v_old_role text;
begin
  if v_actor_role <> 'owner' then
    raise exception 'your role in this organization does not allow this' using errcode = 'KG014';
  end if;
  select m.role into v_old_role from public.organization_members m
   where m.org_id = p_org_id and m.user_id = p_user_id;
  if v_old_role is null then
    raise exception 'not a member of this organization' using errcode = 'KG011';
  end if;
  if p_user_id = p_actor_id then
    raise exception 'ownership cannot be transferred to oneself' using errcode = '22023';
  end if;
  update public.organization_members m set role = 'owner' where m.org_id = p_org_id and m.user_id = p_user_id;
  update public.organization_members m set role = 'admin' where m.org_id = p_org_id and m.user_id = p_actor_id;
  perform keygate.append_org_audit_event('org.ownership_transferred', 'success', p_actor_id, p_org_id, p_user_id,
    null, null, p_client_address, p_user_agent, jsonb_build_object('role', 'owner', 'old_role', v_old_role));
end;
$$;

-- Invites p_email (stored lowercased) as p_role ('admin' or 'member') for
-- p_ttl_seconds (60 s to 30 days), from the token's hash: owner or admin
-- (KG014), active organization (KG013). Raises 22023 for a value out of range.
create function keygate.create_invitation(
  p_actor_id uuid,
  p_org_id uuid,
  p_email text,
  p_role text,
  p_token_hash bytea,
  p_ttl_seconds integer,
  p_client_address text default null,
  p_user_agent text default null
) returns table (id uuid, expires_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_role text;
  v_email text := lower(p_email);
  v_id uuid;
  v_expires_at timestamptz;
begin
  if p_role is null or p_role not in ('admin', 'member') then
    raise exception 'unknown invitation role' using errcode = '22023';
  end if;
  if p_ttl_seconds is null or p_ttl_seconds not between 60 and 30 * 86400 then
    raise exception 'the lifetime must be 60 seconds to 30 days' using errcode = '22023';
  end if;
  if v_email is null or v_email !~ '^[^@[:space:]]+@[^@[:space:]]+$' then
    raise exception 'a valid email is required' using errcode = '22023';
  end if;
  if p_token_hash is null or octet_length(p_token_hash) < 16 then
    raise exception 'a token hash is required' using errcode = '22023';
  end if;
  v_role := keygate.lock_organization(p_actor_id, p_org_id);
  if v_role not in ('owner', 'admin') then
    raise exception 'your role in this organization does not allow this' using errcode = 'KG014';
  end if;
  perform keygate.assert_org_active(p_org_id);
  insert into public.organization_invitations (org_id, email, role, token_hash, invited_by, expires_at)
  values (p_org_id, v_email, p_role, p_token_hash, p_actor_id, now() + make_interval(secs => p_ttl_seconds))
  returning id, expires_at into v_id, v_expires_at;
  perform keygate.append_org_audit_event('org.invitation_created', 'success', p_actor_id, p_org_id, null, null,
    null, p_client_address, p_user_agent,
    jsonb_build_object('role', p_role, 'invitation_id', v_id, 'email_domain', split_part(v_email, '@', 2)));
  return query select v_id, v_expires_at;
end;
$$;

-- The pending invitations of an organization (not accepted, revoked or
-- expired), oldest first: owner or admin (KG014; KG004 for a non-member).
create function keygate.list_invitations(p_actor_id uuid, p_org_id uuid)
returns table (id uuid, email text, role text, invited_by uuid, created_at timestamptz, expires_at timestamptz)
language plpgsql stable
security definer
set search_path = ''
as $$
declare
  v_role text;
begin
  select m.role into v_role from public.organization_members m where m.org_id = p_org_id and m.user_id = p_actor_id;
  if v_role is null then
    raise exception 'no such organization' using errcode = 'KG004';
  elsif v_role not in ('owner', 'admin') then
    raise exception 'your role in this organization does not allow this' using errcode = 'KG014';
  end if;
  return query
    select i.id, i.email, i.role, i.invited_by, i.created_at, i.expires_at
      from public.organization_invitations i
     where i.org_id = p_org_id and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
     order by i.created_at, i.id;
end;
$$;

-- Revokes a pending invitation of the organization: owner or admin (KG014).
-- Raises KG004 for an invitation that is not pending or of another
-- organization.
create function keygate.revoke_invitation(
  p_actor_id uuid,
  p_org_id uuid,
  p_invitation_id uuid,
  p_client_address text default null,
  p_user_agent text default null
) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_role text := keygate.lock_organization(p_actor_id, p_org_id);
  v_invitation public.organization_invitations;
begin
  if v_role not in ('owner', 'admin') then
    raise exception 'your role in this organization does not allow this' using errcode = 'KG014';
  end if;
  update public.organization_invitations i set revoked_at = now()
   where i.id = p_invitation_id and i.org_id = p_org_id
     and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
  returning * into v_invitation;
  if not found then
    raise exception 'no such invitation' using errcode = 'KG004';
  end if;
  perform keygate.append_org_audit_event('org.invitation_revoked', 'success', p_actor_id, p_org_id, null, null,
    null, p_client_address, p_user_agent,
    jsonb_build_object('role', v_invitation.role, 'invitation_id', v_invitation.id,
      'email_domain', split_part(v_invitation.email, '@', 2)));
end;
$$;

-- Accepts the invitation whose token hashes to p_token_hash for p_user_id,
-- and returns the organization and the user's role in it. Raises KG004 for
-- an unknown user, KG001 for an inactive one, KG012 for an unknown, expired,
-- revoked or used invitation or one for another address, KG013 when the
-- organization is deactivated. A user who is already a member keeps their
-- role (never lowered) and the invitation is used up.
create function keygate.accept_invitation(
  p_user_id uuid,
  p_token_hash bytea,
  p_client_address text default null,
  p_user_agent text default null
) returns table (org_id uuid, role text)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_user public.users;
  v_org_id uuid;
  v_invitation public.organization_invitations;
  v_role text;
begin
  select * into v_user from public.users u where u.id = p_user_id for share;
  if not found then
    raise exception 'no such user' using errcode = 'KG004';
  elsif not v_user.is_active then
    raise exception 'user is inactive' using errcode = 'KG001';
  end if;
  select i.org_id into v_org_id from public.organization_invitations i where i.token_hash = p_token_hash;
  if v_org_id is null then
    raise exception 'this invitation is not valid' using errcode = 'KG012';
  end if;
  -- The organization first, then the invitation: the order of every change.
  perform 1 from public.organizations o where o.id = v_org_id for update;
  select * into v_invitation from public.organization_invitations i where i.token_hash = p_token_hash for update;
  if not found or v_invitation.accepted_at is not null or v_invitation.revoked_at is not null
     or v_invitation.expires_at <= now() or v_invitation.email <> lower(v_user.email) then
    raise exception 'this invitation is not valid' using errcode = 'KG012';
  end if;
  perform keygate.assert_org_active(v_org_id);

  select m.role into v_role from public.organization_members m where m.org_id = v_org_id and m.user_id = p_user_id;
  if v_role is null then
    v_role := v_invitation.role;
    insert into public.organization_members (org_id, user_id, role, added_by)
    values (v_org_id, p_user_id, v_role, v_invitation.invited_by);
  end if;
  update public.organization_invitations i set accepted_at = now(), accepted_by = p_user_id
   where i.id = v_invitation.id;
  perform keygate.append_org_audit_event('org.invitation_accepted', 'success', p_user_id, v_org_id, p_user_id,
    null, null, p_client_address, p_user_agent,
    jsonb_build_object('role', v_role, 'invitation_id', v_invitation.id));
  return query select v_org_id, v_role;
end;
$$;

revoke execute on function
  keygate.lock_organization(uuid, uuid),
  keygate.assert_org_active(uuid),
  keygate.assert_not_last_org_owner(uuid, uuid),
  keygate.create_organization(uuid, text, text, text, text),
  keygate.list_organizations(uuid),
  keygate.get_organization(uuid, uuid),
  keygate.rename_organization(uuid, uuid, text, text, text),
  keygate.deactivate_organization(uuid, uuid, text, text),
  keygate.list_members(uuid, uuid),
  keygate.change_member_role(uuid, uuid, uuid, text, text, text),
  keygate.remove_member(uuid, uuid, uuid, text, text),
  keygate.transfer_ownership(uuid, uuid, uuid, text, text),
  keygate.create_invitation(uuid, uuid, text, text, bytea, integer, text, text),
  keygate.list_invitations(uuid, uuid),
  keygate.revoke_invitation(uuid, uuid, uuid, text, text),
  keygate.accept_invitation(uuid, bytea, text, text)
  from public, anon, authenticated;
grant execute on function
  keygate.lock_organization(uuid, uuid),
  keygate.assert_org_active(uuid),
  keygate.assert_not_last_org_owner(uuid, uuid),
  keygate.create_organization(uuid, text, text, text, text),
  keygate.list_organizations(uuid),
  keygate.get_organization(uuid, uuid),
  keygate.rename_organization(uuid, uuid, text, text, text),
  keygate.deactivate_organization(uuid, uuid, text, text),
  keygate.list_members(uuid, uuid),
  keygate.change_member_role(uuid, uuid, uuid, text, text, text),
  keygate.remove_member(uuid, uuid, uuid, text, text),
  keygate.transfer_ownership(uuid, uuid, uuid, text, text),
  keygate.create_invitation(uuid, uuid, text, text, bytea, integer, text, text),
  keygate.list_invitations(uuid, uuid),
  keygate.revoke_invitation(uuid, uuid, uuid, text, text),
  keygate.accept_invitation(uuid, bytea, text, text)
  to service_role;
