-- Sign-in and sign-out in the audit log, and the role of a new user.
--
-- Why: the audit log must say who signed in, when and from where, and who
-- signed out. And new users start as `viewer` (the column default) unless
-- the deployment says otherwise: a default role for new users, and a list of
-- addresses that become admin on their first verified sign-in. Both are
-- applied here, once, on the sign-in that created the user; never again, so
-- a later sign-in cannot undo what an admin changed.

-- Bounded waits: a busy table makes this migration fail fast instead of
-- queueing every query behind its lock.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- Records a successful sign-in of p_user_id through p_provider. On the
-- user's first sign-in (the one that created them: created_at and
-- last_login_at are the same transaction's time) a user still at the default
-- `viewer` becomes admin when their email is in p_admin_emails, else
-- p_default_role (`viewer` or `member`), and that change is recorded too.
create function keygate.record_sign_in(
  p_user_id uuid,
  p_provider text,
  p_default_role text default 'viewer',
  p_admin_emails text[] default '{}',
  p_client_address text default null,
  p_user_agent text default null
) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user public.users;
  v_role text;
begin
  if coalesce(p_default_role, 'viewer') not in ('viewer', 'member') then
    raise exception 'the default role must be viewer or member' using errcode = '22023';
  end if;
  select * into v_user from public.users where id = p_user_id for update;
  if not found then
    return null;
  end if;
  if v_user.created_at = v_user.last_login_at and v_user.role = 'viewer' then
    v_role := case
      when lower(v_user.email) = any (select lower(e) from unnest(coalesce(p_admin_emails, '{}')) e) then 'admin'
      else coalesce(p_default_role, 'viewer')
    end;
    if v_role <> v_user.role then
      update public.users set role = v_role where id = p_user_id returning * into v_user;
      perform keygate.append_audit_event('user.role_changed', 'success', null, p_user_id, null, 'first_sign_in',
        p_client_address, p_user_agent, jsonb_build_object('from', 'viewer', 'to', v_role));
    end if;
  end if;
  perform keygate.append_audit_event('sign_in', 'success', p_user_id, p_user_id, null, null,
    p_client_address, p_user_agent, jsonb_build_object('provider', p_provider));
  return v_user.role;
end;
$$;

-- Records a sign-out of the session p_token_hash (before it is ended), when
-- there is such a session. Returns whether it recorded one.
create function keygate.record_sign_out(p_token_hash bytea, p_client_address text default null, p_user_agent text default null)
returns boolean
language sql
security definer
set search_path = ''
as $$
  select coalesce(bool_or(keygate.append_audit_event('sign_out', 'success', s.user_id, s.user_id, null, null,
                                                     p_client_address, p_user_agent, '{}') is not null), false)
    from public.sessions s where s.token_hash = p_token_hash
$$;

revoke execute on function
  keygate.record_sign_in(uuid, text, text, text[], text, text),
  keygate.record_sign_out(bytea, text, text)
  from public, anon, authenticated;
grant execute on function
  keygate.record_sign_in(uuid, text, text, text[], text, text),
  keygate.record_sign_out(bytea, text, text)
  to service_role;
