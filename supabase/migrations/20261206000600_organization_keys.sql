-- API keys owned by an organization.
--
-- Why: a personal key dies with its owner's account, so a team's production
-- key should not be one. An organization's key belongs to the organization
-- (`org_id`) and records who made it (`created_by`) without being owned by
-- them: the creator's removal, deactivation or deletion leaves it working
-- (`on delete set null`). A key belongs to exactly one of a user or an
-- organization (api_keys_one_owner). A personal key's `created_by` stays
-- null: its owner made it.
--
-- Who may do what (decided here, under the organization's row lock, as the
-- membership functions decide: 20261206000300_organization_functions.sql):
-- every member creates keys of an active organization (KG013 otherwise) and
-- sees all of them (never a hash); owners and admins revoke and rotate any of
-- them, a member only the keys they created (KG014). A non-member gets KG004,
-- as for everything else of the organization. The organization as a whole
-- has the per-owner cap of live keys (KG003) and the per-minute creation rate
-- (KG006) that a user has. Each change is audited with the organization in
-- the same transaction.
--
-- Verification (keygate.lookup_api_key) returns the owner: the user, or the
-- organization, whose deactivation stops its keys exactly as a user's does.
-- An organization's key has no owner role; it is verified under the
-- ceiling of the role `member` (read and write scopes, never `*:admin`),
-- and its creator's Keygate-wide role bounded its scopes when it was made
-- or rotated (keygate.key_scopes_above_role).

-- Bounded waits: this alters public.api_keys, on the hot path.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- An organization's key has no user: clients reading user_id (the
-- dashboard's own list, RLS readers) see it only on keys that have one.
-- squawk-ignore ban-drop-not-null
alter table public.api_keys alter column user_id drop not null;
alter table public.api_keys
  add column org_id uuid references public.organizations (id) on delete cascade,
  add column created_by uuid references public.users (id) on delete set null,
  add constraint api_keys_one_owner check ((user_id is null) <> (org_id is null)),
  add constraint api_keys_creator_of_org_keys check (org_id is not null or created_by is null);
create index api_keys_org_id_idx on public.api_keys (org_id, created_at desc) where org_id is not null;
create index api_keys_created_by_idx on public.api_keys (created_by) where created_by is not null;

grant select (org_id, created_by) on table public.api_keys to authenticated;
create policy "Members can read their organizations' keys" on public.api_keys
  for select to authenticated using (org_id in (select keygate.org_ids_for_current_user()));

-- What a member may see of an organization's key: the personal fields, who
-- made it, and whether they are still a member.
create type keygate.org_api_key_info as (
  id uuid,
  org_id uuid,
  name text,
  start text,
  scopes text[],
  created_at timestamptz,
  last_used_at timestamptz,
  expires_at timestamptz,
  revoked_at timestamptz,
  created_by uuid,
  creator_is_member boolean
);

-- The row of one key as a member sees it. Internal.
create function keygate.org_api_key_info(p_key public.api_keys) returns keygate.org_api_key_info
language sql stable
security definer
set search_path = ''
as $$
  select p_key.id, p_key.org_id, p_key.name, p_key.start, p_key.scopes, p_key.created_at, p_key.last_used_at,
         p_key.expires_at, p_key.revoked_at, p_key.created_by,
         exists (select 1 from public.organization_members m
                  where m.org_id = p_key.org_id and m.user_id = p_key.created_by)
$$;

-- Locks the organization for a new key of p_actor_id's: returns the actor's
-- role in it. Raises KG004 for a non-member, KG001 for an inactive actor,
-- KG013 for a deactivated organization, KG006 past p_max_per_minute keys
-- made in the organization in the last minute (when not null). Internal.
create function keygate.lock_org_key_owner(p_actor_id uuid, p_org_id uuid, p_max_per_minute integer)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_role text := keygate.lock_organization(p_actor_id, p_org_id);
begin
  if not exists (select 1 from public.users u where u.id = p_actor_id and u.is_active) then
    raise exception 'user is inactive' using errcode = 'KG001';
  end if;
  perform keygate.assert_org_active(p_org_id);
  if p_max_per_minute is not null and (
    select count(*) from public.api_keys
     where org_id = p_org_id and created_at > now() - interval '1 minute'
  ) >= p_max_per_minute then
    raise exception 'too many keys created in the last minute' using errcode = 'KG006';
  end if;
  return v_role;
end;
$$;

-- The scopes that p_actor_id's Keygate-wide role does not allow: of p_scopes
-- (a new key), or of the key p_key_id (a rotation) when p_scopes is null.
-- The key counts only when it is the actor's own or their organization's.
create function keygate.key_scopes_above_role(p_actor_id uuid, p_scopes text[], p_key_id uuid default null)
returns text[]
language sql stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(s order by s), '{}')
    from public.users u
    cross join lateral unnest(coalesce(p_scopes, (
      select k.scopes from public.api_keys k
       where k.id = p_key_id
         and (k.user_id = p_actor_id
              or k.org_id in (select m.org_id from public.organization_members m where m.user_id = p_actor_id))
    ), '{}')) s
   where u.id = p_actor_id and not keygate.role_allows_scope(u.role, s)
$$;

-- Creates an organization's key from its hash, made by p_actor_id, and
-- audits it. Raises as keygate.lock_org_key_owner, and KG003 past
-- p_max_active live keys of the organization.
create function keygate.create_org_api_key(
  p_actor_id uuid,
  p_org_id uuid,
  p_name text,
  p_start text,
  p_key_hash bytea,
  p_scopes text[],
  p_expires_at timestamptz default null,
  p_max_active integer default 25,
  p_max_per_minute integer default null,
  p_client_address text default null,
  p_user_agent text default null
) returns keygate.org_api_key_info
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key public.api_keys;
begin
  perform keygate.lock_org_key_owner(p_actor_id, p_org_id, p_max_per_minute);
  if (
    select count(*) from public.api_keys
     where org_id = p_org_id and revoked_at is null and (expires_at is null or expires_at > now())
  ) >= p_max_active then
    raise exception 'active key limit reached' using errcode = 'KG003';
  end if;
  insert into public.api_keys (org_id, created_by, name, start, key_hash, scopes, expires_at)
  values (p_org_id, p_actor_id, p_name, p_start, p_key_hash, coalesce(p_scopes, '{}'), p_expires_at)
  returning * into v_key;
  perform keygate.append_org_audit_event('key.created', 'success', p_actor_id, p_org_id, null, v_key.id, null,
    p_client_address, p_user_agent, jsonb_build_object('name', v_key.name, 'scopes', to_jsonb(v_key.scopes)));
  return keygate.org_api_key_info(v_key);
end;
$$;

-- An organization's keys, newest first, for any member (KG004 otherwise);
-- with p_former_creators, only the keys whose creator is no longer a member.
create function keygate.list_org_api_keys(p_actor_id uuid, p_org_id uuid, p_former_creators boolean default false)
returns setof keygate.org_api_key_info
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  if not exists (select 1 from public.organization_members m where m.org_id = p_org_id and m.user_id = p_actor_id) then
    raise exception 'no such organization' using errcode = 'KG004';
  end if;
  return query
    select i.* from public.api_keys k
     cross join lateral keygate.org_api_key_info(k) i
     where k.org_id = p_org_id and (not p_former_creators or not i.creator_is_member)
     order by k.created_at desc, k.id;
end;
$$;

-- The organization of an organization's key p_key_id when p_actor_id is a
-- member of it, locked, with the actor's role; KG004 otherwise (also for a
-- personal key), KG014 when a plain member did not create the key. Internal.
create function keygate.lock_org_key_for_change(p_actor_id uuid, p_key_id uuid, out org_id uuid, out role text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_creator uuid;
begin
  select k.org_id into org_id from public.api_keys k where k.id = p_key_id and k.org_id is not null;
  if org_id is null then
    raise exception 'no such key' using errcode = 'KG004';
  end if;
  role := keygate.lock_organization(p_actor_id, org_id);
  select k.created_by into v_creator from public.api_keys k where k.id = p_key_id;
  if role = 'member' and v_creator is distinct from p_actor_id then
    raise exception 'your role in this organization does not allow this' using errcode = 'KG014';
  end if;
end;
$$;

-- Revokes an organization's key now (also ends a grace period early) and
-- audits it; revoking twice is not an error and audits nothing. Returns the
-- organization's id. Raises as keygate.lock_org_key_for_change. A
-- deactivated organization's keys can still be revoked.
create function keygate.revoke_org_api_key(
  p_actor_id uuid,
  p_key_id uuid,
  p_client_address text default null,
  p_user_agent text default null
) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_org uuid := (keygate.lock_org_key_for_change(p_actor_id, p_key_id)).org_id;
begin
  update public.api_keys set revoked_at = now()
   where id = p_key_id and (revoked_at is null or revoked_at > now());
  if found then
    perform keygate.append_org_audit_event('key.revoked', 'success', p_actor_id, v_org, null, p_key_id, null,
      p_client_address, p_user_agent, '{}');
  end if;
  return v_org;
end;
$$;

-- Replaces a live organization key with a new one of the same name, scopes
-- and expiry, made by p_actor_id; the old one works for p_grace_seconds.
-- Raises as keygate.lock_org_key_for_change and keygate.lock_org_key_owner,
-- and KG004 when the key is no longer live.
create function keygate.rotate_org_api_key(
  p_actor_id uuid,
  p_key_id uuid,
  p_grace_seconds integer,
  p_start text,
  p_key_hash bytea,
  p_max_per_minute integer default null,
  p_client_address text default null,
  p_user_agent text default null
) returns keygate.org_api_key_info
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_org uuid;
  v_old public.api_keys;
  v_key public.api_keys;
begin
  if p_grace_seconds is null or p_grace_seconds < 0 or p_grace_seconds > 86400 then
    raise exception 'grace period must be 0..86400 seconds' using errcode = '22023';
  end if;
  v_org := (keygate.lock_org_key_for_change(p_actor_id, p_key_id)).org_id;
  perform keygate.lock_org_key_owner(p_actor_id, v_org, p_max_per_minute);
  select * into v_old from public.api_keys
   where id = p_key_id and revoked_at is null and (expires_at is null or expires_at > now())
   for update;
  if not found then
    raise exception 'no such key' using errcode = 'KG004';
  end if;
  insert into public.api_keys (org_id, created_by, name, start, key_hash, scopes, expires_at)
  values (v_org, p_actor_id, v_old.name, p_start, p_key_hash, v_old.scopes, v_old.expires_at)
  returning * into v_key;
  update public.api_keys
     set revoked_at = now() + make_interval(secs => p_grace_seconds), replaced_by = v_key.id
   where id = p_key_id;
  perform keygate.append_org_audit_event('key.rotated', 'success', p_actor_id, v_org, null, v_key.id, null,
    p_client_address, p_user_agent,
    jsonb_build_object('name', v_key.name, 'replaces', p_key_id, 'grace_seconds', p_grace_seconds));
  return keygate.org_api_key_info(v_key);
end;
$$;

-- The hot path, now naming the owner: one indexed read by hash, and the
-- owner's row by primary key. A row only for a key that is neither revoked
-- (past its grace) nor expired, whose owner is active: an active user, or an
-- organization not deactivated. `role` is the ceiling the verifier applies
-- to the stored scopes: the user's role, or `member` for an organization's
-- key. `created_by` is the key's maker: the user for a personal key.
drop function keygate.verify_api_key(bytea);
drop function keygate.lookup_api_key(bytea);
create function keygate.lookup_api_key(p_key_hash bytea)
returns table (
  key_id uuid,
  user_id uuid,
  org_id uuid,
  created_by uuid,
  scopes text[],
  role text,
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
    select k.id, k.user_id, k.org_id, coalesce(k.created_by, k.user_id), k.scopes,
           case when k.org_id is null then u.role else 'member' end,
           k.expires_at, least(k.revoked_at, k.expires_at), k.last_used_at
      from public.api_keys k
      left join public.users u on u.id = k.user_id
      left join public.organizations o on o.id = k.org_id
     where k.key_hash = p_key_hash
       and (k.revoked_at is null or k.revoked_at > now())
       and (k.expires_at is null or k.expires_at > now())
       and case when k.org_id is null then u.is_active else o.deactivated_at is null end;
end;
$$;

-- The older verification with the role ceiling applied in SQL, for SQL
-- callers: personal keys only, as before (its columns have no owner).
create function keygate.verify_api_key(p_key_hash bytea)
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
    select l.key_id, l.user_id,
           array(select t.s from unnest(l.scopes) with ordinality as t(s, n)
                  where keygate.role_allows_scope(l.role, t.s)
                  order by t.n),
           l.expires_at, l.valid_until, l.last_used_at
      from keygate.lookup_api_key(p_key_hash) l
     where l.org_id is null;
end;
$$;

revoke execute on function
  keygate.org_api_key_info(public.api_keys),
  keygate.lock_org_key_owner(uuid, uuid, integer),
  keygate.key_scopes_above_role(uuid, text[], uuid),
  keygate.create_org_api_key(uuid, uuid, text, text, bytea, text[], timestamptz, integer, integer, text, text),
  keygate.list_org_api_keys(uuid, uuid, boolean),
  keygate.lock_org_key_for_change(uuid, uuid),
  keygate.revoke_org_api_key(uuid, uuid, text, text),
  keygate.rotate_org_api_key(uuid, uuid, integer, text, bytea, integer, text, text),
  keygate.lookup_api_key(bytea),
  keygate.verify_api_key(bytea)
  from public, anon, authenticated;
grant execute on function
  keygate.key_scopes_above_role(uuid, text[], uuid),
  keygate.create_org_api_key(uuid, uuid, text, text, bytea, text[], timestamptz, integer, integer, text, text),
  keygate.list_org_api_keys(uuid, uuid, boolean),
  keygate.revoke_org_api_key(uuid, uuid, text, text),
  keygate.rotate_org_api_key(uuid, uuid, integer, text, bytea, integer, text, text),
  keygate.lookup_api_key(bytea),
  keygate.verify_api_key(bytea)
  to service_role;
