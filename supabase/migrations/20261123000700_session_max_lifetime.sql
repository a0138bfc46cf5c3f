-- Sessions never outlive their absolute lifetime, whatever their stored expiry.
--
-- Why: get_session only capped the expiry when it slid it (at most once a
-- minute), and still returned the user on that very call even when the cap
-- put the expiry in the past. A session whose stored expiry lies beyond
-- created_at + p_max_lifetime_seconds (made before the lifetime was
-- shortened, or with a TTL longer than the lifetime) therefore kept working
-- until that stored expiry. Now the lifetime is checked on every read, so
-- shortening it takes effect on the next request.

create or replace function keygate.get_session(p_token_hash bytea, p_ttl_seconds integer, p_max_lifetime_seconds integer)
returns table (user_id uuid, email text, name text, image_url text, role text, expires_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_session public.sessions;
  v_ends_at timestamptz;
begin
  select * into v_session from public.sessions s
   where s.token_hash = p_token_hash and s.expires_at > now();
  if not found then
    return;
  end if;
  v_ends_at := v_session.created_at + make_interval(secs => p_max_lifetime_seconds);
  if v_ends_at <= now() then
    return;
  end if;
  if v_session.last_seen_at < now() - interval '1 minute' or v_session.expires_at > v_ends_at then
    update public.sessions s
       set last_seen_at = now(),
           expires_at = least(v_ends_at, now() + make_interval(secs => p_ttl_seconds))
     where s.id = v_session.id
     returning * into v_session;
  end if;
  return query
    select u.id, u.email, u.name, u.image_url, u.role, v_session.expires_at
      from public.users u where u.id = v_session.user_id and u.is_active;
end;
$$;

revoke execute on function keygate.get_session(bytea, integer, integer) from public, anon, authenticated;
grant execute on function keygate.get_session(bytea, integer, integer) to service_role;
