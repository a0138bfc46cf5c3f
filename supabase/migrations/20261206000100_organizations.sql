-- Organizations, their members, and audit events that name an organization.
--
-- Why: keys, jobs and roles so far belong to one user. A team needs a shared
-- owner for them: an organization with members, each with a role in it
-- ('owner', 'admin' or 'member'), independent of their Keygate-wide role.
-- Every write goes through the SQL functions of
-- 20261206000300_organization_functions.sql (service role only), which lock
-- the organization's row before they decide, so an organization always keeps
-- an owner.
--
-- A signed-in client may read, through RLS, the organizations they belong to
-- and every member of those, and nothing of any other organization. The
-- policies ask keygate.org_ids_for_current_user(), a security definer
-- function, so the members policy never queries the table it guards (in the
-- style of basejump's get_accounts_with_role). Clients write nothing.
--
-- Audit events gain an org_id (no foreign key, like actor_id: the record
-- outlives the organization) and keygate.append_org_audit_event() to write
-- it, under the rules of keygate.append_audit_event().

-- Bounded waits: this alters public.audit_events and references
-- public.users, both in use.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

create table public.organizations (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique check (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$'),
  name text not null check (length(name) between 1 and 100),
  created_by uuid references public.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deactivated_at timestamptz
);
alter table public.organizations enable row level security;
create index organizations_created_by_idx on public.organizations (created_by) where created_by is not null;

create trigger organizations_touch_updated_at
  before update on public.organizations
  for each row execute function keygate.touch_updated_at();

create table public.organization_members (
  org_id uuid not null references public.organizations (id) on delete cascade,
  user_id uuid not null references public.users (id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'member')),
  added_by uuid references public.users (id) on delete set null,
  created_at timestamptz not null default now(),
  primary key (org_id, user_id)
);
alter table public.organization_members enable row level security;
create index organization_members_user_id_idx on public.organization_members (user_id);
create index organization_members_added_by_idx on public.organization_members (added_by) where added_by is not null;

-- Clients get no write privilege at all; RLS is the second wall, not the first.
revoke all on table public.organizations, public.organization_members from public, anon, authenticated;
grant select on table public.organizations, public.organization_members to authenticated;
grant all on table public.organizations, public.organization_members to service_role;

-- The organizations the caller (keygate.current_user_id()) belongs to, in
-- any role. Security definer: the policies below call it, and it reads
-- organization_members without going through that table's own policy.
create function keygate.org_ids_for_current_user() returns setof uuid
language sql stable
security definer
set search_path = ''
as $$
  select m.org_id from public.organization_members m
   where m.user_id = (select keygate.current_user_id())
$$;

-- The same, for the roles in p_roles only (none for null or an empty array).
create function keygate.org_ids_for_current_user(p_roles text[]) returns setof uuid
language sql stable
security definer
set search_path = ''
as $$
  select m.org_id from public.organization_members m
   where m.user_id = (select keygate.current_user_id())
     and m.role = any (coalesce(p_roles, '{}'))
$$;

revoke execute on function
  keygate.org_ids_for_current_user(),
  keygate.org_ids_for_current_user(text[])
  from public, anon;
grant execute on function
  keygate.org_ids_for_current_user(),
  keygate.org_ids_for_current_user(text[])
  to authenticated, service_role;

create policy "Members can read their organizations" on public.organizations
  for select to authenticated using (id in (select keygate.org_ids_for_current_user()));

create policy "Members can read the members of their organizations" on public.organization_members
  for select to authenticated using (org_id in (select keygate.org_ids_for_current_user()));

-- Which organization an event concerns (null: none).
alter table public.audit_events add column org_id uuid;
create index audit_events_org_idx on public.audit_events (org_id, id desc) where org_id is not null;

-- Appends one event (about an organization when p_org_id is set) and purges
-- at most 100 expired ones. Returns the new id.
create function keygate.append_org_audit_event(
  p_action text,
  p_outcome text,
  p_actor_id uuid,
  p_org_id uuid,
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
    (actor_id, org_id, target_user_id, target_key_id, action, outcome, reason, client_address, user_agent, details)
  values
    (p_actor_id, p_org_id, p_target_user_id, p_target_key_id, p_action, p_outcome, p_reason, v_address,
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

revoke execute on function
  keygate.append_org_audit_event(text, text, uuid, uuid, uuid, uuid, text, text, text, jsonb)
  from public, anon, authenticated;
grant execute on function
  keygate.append_org_audit_event(text, text, uuid, uuid, uuid, uuid, text, text, text, jsonb)
  to service_role;

-- An event about no organization is the same append with a null org_id:
-- keygate.append_audit_event keeps its signature (every caller stays as it
-- is) and becomes a call of the function above, so the insert and the
-- retention purge are written once.
create or replace function keygate.append_audit_event(
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
language sql
security definer
set search_path = ''
as $$
  select keygate.append_org_audit_event(p_action, p_outcome, p_actor_id, null, p_target_user_id, p_target_key_id,
    p_reason, p_client_address, p_user_agent, p_details)
$$;
