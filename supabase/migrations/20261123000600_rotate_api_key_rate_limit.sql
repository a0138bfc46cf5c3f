-- Rotation is creation too: limit it by the same per-minute rate.
--
-- Why: rotate_api_key inserts a new live key while the old one keeps working
-- through its grace period, and it counted neither. Rotating in a loop
-- minted any number of working keys, past both the per-minute creation
-- limit and (through keys in grace, which the cap does not count) the
-- active-key cap. The rate now counts every key the user made in the last
-- minute, created or rotated, so keys in grace are bounded too.

drop function keygate.rotate_api_key(uuid, uuid, integer, text, bytea);

-- Replaces a live key with a new one of the same name, scopes and expiry; the
-- old key keeps working for p_grace_seconds. Raises KG004 when the user has no
-- live key of that id, KG006 past the per-minute rate (when p_max_per_minute
-- is not null).
create function keygate.rotate_api_key(
  p_user_id uuid,
  p_key_id uuid,
  p_grace_seconds integer,
  p_start text,
  p_key_hash bytea,
  p_max_per_minute integer default null
) returns keygate.api_key_info
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_old public.api_keys;
  v_key keygate.api_key_info;
begin
  if p_grace_seconds is null or p_grace_seconds < 0 or p_grace_seconds > 86400 then
    raise exception 'grace period must be 0..86400 seconds' using errcode = '22023';
  end if;
  perform 1 from public.users where id = p_user_id and is_active for update;
  if not found then
    raise exception 'no such user' using errcode = 'KG004';
  end if;
  select * into v_old from public.api_keys
   where id = p_key_id and user_id = p_user_id
     and revoked_at is null and (expires_at is null or expires_at > now())
   for update;
  if not found then
    raise exception 'no such key' using errcode = 'KG004';
  end if;

  if p_max_per_minute is not null and (
    select count(*) from public.api_keys
     where user_id = p_user_id and created_at > now() - interval '1 minute'
  ) >= p_max_per_minute then
    raise exception 'too many keys created in the last minute' using errcode = 'KG006';
  end if;

  insert into public.api_keys (user_id, name, start, key_hash, scopes, expires_at)
  values (p_user_id, v_old.name, p_start, p_key_hash, v_old.scopes, v_old.expires_at)
  returning id, name, start, scopes, created_at, last_used_at, expires_at, revoked_at into v_key;

  update public.api_keys
     set revoked_at = now() + make_interval(secs => p_grace_seconds), replaced_by = v_key.id
   where id = p_key_id;
  return v_key;
end;
$$;

revoke execute on function keygate.rotate_api_key(uuid, uuid, integer, text, bytea, integer)
  from public, anon, authenticated;
grant execute on function keygate.rotate_api_key(uuid, uuid, integer, text, bytea, integer)
  to service_role;
