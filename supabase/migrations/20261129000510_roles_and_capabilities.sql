-- Roles that bound keys, admin capabilities, and the admin functions.
--
-- Why: `users.role` existed but meant nothing, and disabling a user or
-- revoking someone else's leaked key took SQL by hand.
--
-- Roles bound what keys can do. A scope's level follows its name:
-- `<thing>:read` is read level, `<thing>:admin` admin level, anything else
-- write level. `viewer` may use read scopes, `member` read and write, `admin`
-- all. The ceiling is applied when a key is verified (keygate.verify_api_key
-- below), so lowering a role narrows existing keys without rewriting them and
-- raising it again restores them; creating or rotating a key above the
-- ceiling is refused before it is minted (keygate.scopes_above_role).
--
-- Capabilities are single admin powers held beside the role. The role
-- `admin` implies all of them. Roles and capabilities are decided by
-- functions of a role name and a user (keygate.role_allows_scope,
-- keygate.effective_capabilities), so a per-organization role can later be
-- looked up from a membership table and passed to the same functions.
--
-- Nobody can remove the last active admin: every change that could (a role
-- change, a deactivation) takes one transaction-level advisory lock and
-- counts the active admins that would remain.

-- Bounded waits: a busy table makes this migration fail fast instead of
-- queueing every query behind its lock.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

create table public.user_capabilities (
  user_id uuid not null references public.users (id) on delete cascade,
  capability text not null
    check (capability in ('users.read', 'users.manage', 'keys.revoke_any', 'audit.read', 'capabilities.grant')),
  granted_by uuid references public.users (id) on delete set null,
  granted_at timestamptz not null default now(),
  primary key (user_id, capability)
);
alter table public.user_capabilities enable row level security;
revoke all on table public.user_capabilities from anon, authenticated;
grant all on table public.user_capabilities to service_role;
-- No policy: clients never read or write capabilities directly.

create index users_role_active_idx on public.users (role) where is_active;

-- Every capability, in the order the API lists them.
create function keygate.all_capabilities() returns text[]
language sql immutable
set search_path = ''
as $$ select array['users.read', 'users.manage', 'keys.revoke_any', 'audit.read', 'capabilities.grant'] $$;

-- The role ceiling: may a key of an owner with this role use this scope?
create function keygate.role_allows_scope(p_role text, p_scope text) returns boolean
language sql immutable
set search_path = ''
as $$
  select case
    when p_role = 'admin' then true
    when p_scope like '%:read' then p_role in ('viewer', 'member')
    when p_scope like '%:admin' then false
    else p_role = 'member'
  end
$$;

-- The scopes of a new key (p_scopes), or of the key being rotated
-- (p_key_id), that the owner's role does not allow. Empty when all are allowed.
create function keygate.scopes_above_role(p_user_id uuid, p_scopes text[], p_key_id uuid default null)
returns text[]
language sql stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(s order by s), '{}')
    from public.users u
    cross join lateral unnest(
      coalesce(p_scopes, (select k.scopes from public.api_keys k where k.id = p_key_id and k.user_id = p_user_id), '{}')
    ) s
   where u.id = p_user_id and not keygate.role_allows_scope(u.role, s)
$$;

-- A user's capabilities: all of them for an active admin, the granted ones
-- for any other active user, none for an inactive or unknown user.
create function keygate.effective_capabilities(p_user_id uuid) returns text[]
language sql stable
security definer
set search_path = ''
as $$
  select case
    when u.role = 'admin' then keygate.all_capabilities()
    else coalesce(
      (select array_agg(c.capability order by array_position(keygate.all_capabilities(), c.capability))
         from public.user_capabilities c where c.user_id = u.id),
      '{}')
  end
    from public.users u where u.id = p_user_id and u.is_active
  union all
  select '{}'::text[]
  limit 1
$$;

-- Verification with the role ceiling: the same one indexed read as before
-- (20261123000300_api_keys.sql), returning only the scopes the owner's
-- current role allows. The ceiling is keygate.role_allows_scope's rule
-- written inline (a call per scope made verification about three times
-- slower); supabase/tests/database/03_roles_admin_audit.test.sql checks that the two agree.
create or replace function keygate.verify_api_key(p_key_hash bytea)
returns table (
  key_id uuid,
  user_id uuid,
  scopes text[],
  expires_at timestamptz,
  valid_until timestamptz,
  last_used_at timestamptz
)
language plpgsql stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
  return query
    select k.id, k.user_id,
           case when u.role = 'admin' then k.scopes
                else array(select s from unnest(k.scopes) with ordinality as t(s, n)
                            where s like '%:read' or (u.role = 'member' and s not like '%:admin')
                            order by n)
           end,
           k.expires_at, least(k.revoked_at, k.expires_at), k.last_used_at
      from public.api_keys k
      join public.users u on u.id = k.user_id
     where k.key_hash = p_key_hash
       and (k.revoked_at is null or k.revoked_at > now())
       and (k.expires_at is null or k.expires_at > now())
       and u.is_active;
end;
$$;

-- What the admin API shows of a user.
create type keygate.admin_user_info as (
  id uuid,
  email text,
  name text,
  image_url text,
  role text,
  capabilities text[],
  is_active boolean,
  last_login_at timestamptz,
  created_at timestamptz,
  active_keys integer
);

create function keygate.admin_user_info(p_user public.users) returns keygate.admin_user_info
language sql stable
security definer
set search_path = ''
as $$
  select p_user.id, p_user.email, p_user.name, p_user.image_url, p_user.role,
         coalesce((select array_agg(c.capability order by array_position(keygate.all_capabilities(), c.capability))
                     from public.user_capabilities c where c.user_id = p_user.id), '{}'),
         p_user.is_active, p_user.last_login_at, p_user.created_at,
         (select count(*)::integer from public.api_keys k
           where k.user_id = p_user.id and (k.revoked_at is null or k.revoked_at > now())
             and (k.expires_at is null or k.expires_at > now()))
$$;

-- Users whose email or name contains p_query (case-insensitive; null or ''
-- for all), ordered by lower(email) then id, after the cursor
-- (p_after_email, p_after_id). At most p_limit (1..101: a page of 100 and one more, to know whether another page follows) rows.
create function keygate.admin_list_users(
  p_query text default null,
  p_after_email text default null,
  p_after_id uuid default null,
  p_limit integer default 50
) returns setof keygate.admin_user_info
language sql stable
security definer
set search_path = ''
as $$
  select (keygate.admin_user_info(u)).*
    from public.users u
   where (coalesce(p_query, '') = ''
          or strpos(lower(u.email), lower(p_query)) > 0
          or strpos(lower(coalesce(u.name, '')), lower(p_query)) > 0)
     and (p_after_email is null or (lower(u.email), u.id) > (p_after_email, coalesce(p_after_id, '00000000-0000-0000-0000-000000000000'::uuid)))
   order by lower(u.email), u.id
   limit greatest(1, least(coalesce(p_limit, 50), 101))
$$;

create function keygate.admin_get_user(p_user_id uuid) returns setof keygate.admin_user_info
language sql stable
security definer
set search_path = ''
as $$
  select (keygate.admin_user_info(u)).* from public.users u where u.id = p_user_id
$$;

-- Raises KG008 unless, after the change, an active admin other than
-- p_user_id remains (call only when the change removes p_user_id's admin
-- power). Serialised by one advisory lock, so two admins demoting each other
-- at once cannot both succeed.
create function keygate.assert_not_last_admin(p_user_id uuid) returns void
language plpgsql
set search_path = ''
as $$
begin
  perform pg_advisory_xact_lock(hashtextextended('keygate:admins', 0));
  if not exists (select 1 from public.users where role = 'admin' and is_active and id <> p_user_id) then
    raise exception 'this is the last active admin' using errcode = 'KG008';
  end if;
end;
$$;

-- Changes a user's role and/or capabilities (null leaves that part alone;
-- p_capabilities replaces the whole list). Records one audit event per part
-- that changed. Raises KG004 for an unknown user, KG008 when it would demote
-- the last active admin, 22023 for an unknown role or capability.
create function keygate.admin_update_user(
  p_actor_id uuid,
  p_user_id uuid,
  p_role text,
  p_capabilities text[],
  p_client_address text default null,
  p_user_agent text default null
) returns keygate.admin_user_info
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user public.users;
  v_old_role text;
  v_old_caps text[];
  v_new_caps text[];
begin
  if p_role is not null and p_role not in ('viewer', 'member', 'admin') then
    raise exception 'unknown role' using errcode = '22023';
  end if;
  if p_capabilities is not null and not (p_capabilities <@ keygate.all_capabilities()) then
    raise exception 'unknown capability' using errcode = '22023';
  end if;
  select * into v_user from public.users where id = p_user_id for update;
  if not found then
    raise exception 'no such user' using errcode = 'KG004';
  end if;

  if p_role is not null and p_role <> v_user.role then
    if v_user.role = 'admin' and v_user.is_active then
      perform keygate.assert_not_last_admin(p_user_id);
    end if;
    v_old_role := v_user.role;
    update public.users set role = p_role where id = p_user_id returning * into v_user;
    perform keygate.append_audit_event('user.role_changed', 'success', p_actor_id, p_user_id, null, null,
      p_client_address, p_user_agent, jsonb_build_object('from', v_old_role, 'to', p_role));
  end if;

  if p_capabilities is not null then
    select coalesce(array_agg(capability order by capability), '{}') into v_old_caps
      from public.user_capabilities where user_id = p_user_id;
    select coalesce(array_agg(distinct c order by c), '{}') into v_new_caps from unnest(p_capabilities) c;
    if v_old_caps is distinct from v_new_caps then
      delete from public.user_capabilities where user_id = p_user_id and not (capability = any (v_new_caps));
      insert into public.user_capabilities (user_id, capability, granted_by)
      select p_user_id, c, p_actor_id from unnest(v_new_caps) c
      on conflict do nothing;
      perform keygate.append_audit_event('user.capabilities_changed', 'success', p_actor_id, p_user_id, null, null,
        p_client_address, p_user_agent, jsonb_build_object('from', to_jsonb(v_old_caps), 'to', to_jsonb(v_new_caps)));
    end if;
  end if;

  return keygate.admin_user_info(v_user);
end;
$$;

-- Deactivates or reactivates a user, recording it. Deactivation ends every
-- session (the users trigger below) and stops the user's keys at once in the
-- database (verify_api_key joins is_active), within the verification cache
-- bound in the functions. Raises KG004 for an unknown user, KG008 when it
-- would deactivate the last active admin.
create function keygate.admin_set_user_active(
  p_actor_id uuid,
  p_user_id uuid,
  p_active boolean,
  p_client_address text default null,
  p_user_agent text default null
) returns keygate.admin_user_info
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user public.users;
begin
  if p_active is null then
    raise exception 'p_active is required' using errcode = '22023';
  end if;
  select * into v_user from public.users where id = p_user_id for update;
  if not found then
    raise exception 'no such user' using errcode = 'KG004';
  end if;
  if v_user.is_active and not p_active and v_user.role = 'admin' then
    perform keygate.assert_not_last_admin(p_user_id);
  end if;
  if v_user.is_active is distinct from p_active then
    update public.users set is_active = p_active where id = p_user_id returning * into v_user;
    perform keygate.append_audit_event(case when p_active then 'user.reactivated' else 'user.deactivated' end,
      'success', p_actor_id, p_user_id, null, null, p_client_address, p_user_agent, '{}');
  end if;
  return keygate.admin_user_info(v_user);
end;
$$;

-- Revokes any user's key now, recording who did it. Returns the key's owner,
-- or no row for an unknown key. Revoking twice is not an error (nor a second event).
create function keygate.admin_revoke_key(
  p_actor_id uuid,
  p_key_id uuid,
  p_client_address text default null,
  p_user_agent text default null
) returns table (user_id uuid)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_owner uuid;
  v_name text;
begin
  update public.api_keys k set revoked_at = now()
   where k.id = p_key_id and (k.revoked_at is null or k.revoked_at > now())
  returning k.user_id, k.name into v_owner, v_name;
  if found then
    perform keygate.append_audit_event('key.revoked', 'success', p_actor_id, v_owner, p_key_id, null,
      p_client_address, p_user_agent, jsonb_build_object('name', v_name));
  else
    select k.user_id into v_owner from public.api_keys k where k.id = p_key_id;
    if v_owner is null then
      return;
    end if;
  end if;
  return query select v_owner;
end;
$$;

-- The first-admin command (scripts/admin.mjs): the same changes by email,
-- with no actor. Raises KG004 when no user has that address.
create function keygate.admin_update_user_by_email(p_email text, p_role text, p_capabilities text[])
returns keygate.admin_user_info
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id uuid;
begin
  select id into v_id from public.users where lower(email) = lower(p_email);
  if v_id is null then
    raise exception 'no such user' using errcode = 'KG004';
  end if;
  return keygate.admin_update_user(null, v_id, p_role, p_capabilities, null, 'keygate admin command');
end;
$$;

revoke execute on function
  keygate.all_capabilities(),
  keygate.role_allows_scope(text, text),
  keygate.scopes_above_role(uuid, text[], uuid),
  keygate.effective_capabilities(uuid),
  keygate.admin_user_info(public.users),
  keygate.admin_list_users(text, text, uuid, integer),
  keygate.admin_get_user(uuid),
  keygate.assert_not_last_admin(uuid),
  keygate.admin_update_user(uuid, uuid, text, text[], text, text),
  keygate.admin_set_user_active(uuid, uuid, boolean, text, text),
  keygate.admin_revoke_key(uuid, uuid, text, text),
  keygate.admin_update_user_by_email(text, text, text[])
  from public, anon, authenticated;
grant execute on function
  keygate.all_capabilities(),
  keygate.role_allows_scope(text, text),
  keygate.scopes_above_role(uuid, text[], uuid),
  keygate.effective_capabilities(uuid),
  keygate.admin_user_info(public.users),
  keygate.admin_list_users(text, text, uuid, integer),
  keygate.admin_get_user(uuid),
  keygate.assert_not_last_admin(uuid),
  keygate.admin_update_user(uuid, uuid, text, text[], text, text),
  keygate.admin_set_user_active(uuid, uuid, boolean, text, text),
  keygate.admin_revoke_key(uuid, uuid, text, text),
  keygate.admin_update_user_by_email(text, text, text[])
  to service_role;
