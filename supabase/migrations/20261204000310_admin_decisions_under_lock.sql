-- Admin changes decide what they need inside the transaction that makes them.
--
-- Why: the admin function read the target's role and the actor's
-- capabilities, decided in TypeScript which capabilities the change needed,
-- and then called keygate.admin_update_user, keygate.admin_set_user_active or
-- keygate.admin_revoke_key, which locked the row and changed it without
-- checking again. Between the check and the change another admin could make
-- the target an admin (and an actor without capabilities.grant then
-- deactivated or demoted an admin), or take the actor's capability away (and
-- the actor still used it after the removal had been answered).
--
-- Now these functions are the authority, as the last-admin guard already
-- was: each locks the rows the decision depends on, reads the target's
-- current role and the actor's effective capabilities (active, and admin or
-- holding the capability: keygate.effective_capabilities), and raises KG009,
-- naming what is missing, before it changes anything. The rule of what a
-- change needs is keygate.admin_required_capabilities, the same rule as
-- requiredCapabilities in functions/_shared/handlers/admin/required-capabilities.ts
-- (a test checks that they agree); the TypeScript one stays as an early
-- refusal and for `GET /admin/me`.
--
-- Locks: the target's row FOR UPDATE (as before) and the actor's FOR SHARE.
-- Every change to a user's role, capabilities or active flag locks that
-- user's row FOR UPDATE, so a change to the actor either waits for the
-- actor's change in progress to commit, or commits first and the actor's
-- change, once it has the lock, sees it. The two rows are locked in id order,
-- so two admins acting on each other at the same moment cannot deadlock.
--
-- A change with no actor no longer skips a check: it holds no capability,
-- so it may change nothing. The operator's first-admin command
-- (keygate.admin_update_user_by_email, scripts/admin.mjs), which has no
-- actor by design, makes its change through keygate.apply_user_change, as
-- the database owner could by hand.

-- Bounded waits: the functions below lock rows of tables in use.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- The capabilities an admin action needs. p_target_role is the target's
-- current role (null for no such user: then what any target needs); for
-- 'update_user', p_role is the new role and p_capabilities the new list
-- (null: left alone). A role change needs users.manage, and
-- capabilities.grant as well when it makes or unmakes an admin; acting on an
-- admin's active flag needs both; any capability list needs
-- capabilities.grant. Raises 22023 for an unknown action.
create function keygate.admin_required_capabilities(
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
    when 'list_users', 'get_user' then
      return array['users.read'];
    when 'read_audit' then
      return array['audit.read'];
    when 'revoke_key' then
      return array['keys.revoke_any'];
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

-- Locks what an admin decision depends on: the actor's row FOR SHARE and the
-- target's FOR UPDATE, in id order (one row when they are the same user; no
-- target for a key revocation). Returns the target's row as it is now, or
-- nulls when there is no such user.
create function keygate.lock_admin_rows(p_actor_id uuid, p_user_id uuid) returns public.users
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user public.users;
begin
  if p_actor_id < p_user_id then
    perform 1 from public.users where id = p_actor_id for share;
  end if;
  if p_user_id is not null then
    select * into v_user from public.users where id = p_user_id for update;
  end if;
  if p_actor_id > p_user_id or p_user_id is null then
    perform 1 from public.users where id = p_actor_id for share;
  end if;
  return v_user;
end;
$$;

-- Raises KG009 unless p_actor_id holds every capability in p_needed now
-- (keygate.effective_capabilities: none for an inactive, unknown or null
-- actor). The detail lists what is missing, comma-separated, in p_needed's
-- order; the admin function names it in its 403. Call after
-- keygate.lock_admin_rows, so the answer holds until the transaction ends.
create function keygate.assert_capabilities(p_actor_id uuid, p_needed text[]) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_held text[] := keygate.effective_capabilities(p_actor_id);
  v_missing text[];
begin
  select coalesce(array_agg(t.c order by t.n), '{}') into v_missing
    from unnest(coalesce(p_needed, '{}')) with ordinality as t(c, n)
   where not (t.c = any (v_held));
  if cardinality(v_missing) > 0 then
    raise exception 'this needs the capability %', array_to_string(v_missing, ' and ')
      using errcode = 'KG009', detail = array_to_string(v_missing, ',');
  end if;
end;
$$;

-- The change itself, with no capability check: what keygate.admin_update_user
-- did before (see 20261129000510_roles_and_capabilities.sql), for the
-- checked function below and the first-admin command. Raises KG004 for an
-- unknown user, KG008 when it would demote the last active admin.
create function keygate.apply_user_change(
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

-- Changes a user's role and/or capabilities for p_actor_id, once the actor
-- holds what the change needs for the target as it is under the lock.
-- Raises 22023 for an unknown role or capability, KG009 for a missing
-- capability (before KG004, so a caller without even what any target needs
-- learns nothing about the target), KG004 for an unknown user, KG008 when it
-- would demote the last active admin.
create or replace function keygate.admin_update_user(
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
begin
  if p_role is not null and p_role not in ('viewer', 'member', 'admin') then
    raise exception 'unknown role' using errcode = '22023';
  end if;
  if p_capabilities is not null and not (p_capabilities <@ keygate.all_capabilities()) then
    raise exception 'unknown capability' using errcode = '22023';
  end if;
  v_user := keygate.lock_admin_rows(p_actor_id, p_user_id);
  perform keygate.assert_capabilities(p_actor_id,
    keygate.admin_required_capabilities('update_user', v_user.role, p_role, p_capabilities));
  if v_user.id is null then
    raise exception 'no such user' using errcode = 'KG004';
  end if;
  return keygate.apply_user_change(p_actor_id, p_user_id, p_role, p_capabilities, p_client_address, p_user_agent);
end;
$$;

-- Deactivates or reactivates a user for p_actor_id, recording it, once the
-- actor holds what it needs for the target as it is under the lock.
-- Deactivation ends every session (20261129000520_deactivation_ends_sessions.sql)
-- and stops the user's keys. Raises KG009 for a missing capability, KG004 for
-- an unknown user, KG008 when it would deactivate the last active admin.
create or replace function keygate.admin_set_user_active(
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
  v_user := keygate.lock_admin_rows(p_actor_id, p_user_id);
  perform keygate.assert_capabilities(p_actor_id, keygate.admin_required_capabilities('set_active', v_user.role));
  if v_user.id is null then
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

-- Revokes any user's key now for p_actor_id, who must hold keys.revoke_any
-- (KG009 otherwise, whether or not the key exists), decided once the
-- actor's row and the key's are locked, recording who did it. Returns the
-- key's owner, or no row for an unknown key. Revoking twice is not an error
-- (nor a second event).
create or replace function keygate.admin_revoke_key(
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
  perform keygate.lock_admin_rows(p_actor_id, null);
  -- The key too, before deciding: a change that waited for it decides on what holds once it has it.
  perform 1 from public.api_keys k where k.id = p_key_id for update;
  perform keygate.assert_capabilities(p_actor_id, keygate.admin_required_capabilities('revoke_key'));
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

-- The first-admin command: the same change by email, with no actor and no
-- capability check (whoever can run it can write these tables directly).
-- Raises KG004 when no user has that address.
create or replace function keygate.admin_update_user_by_email(p_email text, p_role text, p_capabilities text[])
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
  return keygate.apply_user_change(null, v_id, p_role, p_capabilities, null, 'keygate admin command');
end;
$$;

revoke execute on function
  keygate.admin_required_capabilities(text, text, text, text[]),
  keygate.lock_admin_rows(uuid, uuid),
  keygate.assert_capabilities(uuid, text[]),
  keygate.apply_user_change(uuid, uuid, text, text[], text, text),
  keygate.admin_update_user(uuid, uuid, text, text[], text, text),
  keygate.admin_set_user_active(uuid, uuid, boolean, text, text),
  keygate.admin_revoke_key(uuid, uuid, text, text),
  keygate.admin_update_user_by_email(text, text, text[])
  from public, anon, authenticated;
grant execute on function
  keygate.admin_required_capabilities(text, text, text, text[]),
  keygate.lock_admin_rows(uuid, uuid),
  keygate.assert_capabilities(uuid, text[]),
  keygate.apply_user_change(uuid, uuid, text, text[], text, text),
  keygate.admin_update_user(uuid, uuid, text, text[], text, text),
  keygate.admin_set_user_active(uuid, uuid, boolean, text, text),
  keygate.admin_revoke_key(uuid, uuid, text, text),
  keygate.admin_update_user_by_email(text, text, text[])
  to service_role;
