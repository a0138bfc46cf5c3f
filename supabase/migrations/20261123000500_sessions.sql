-- Dashboard sessions, stateful.
--
-- Why: logout must end a session server-side (a copied cookie stops working at
-- once) and an inactive user must lose every session. The cookie holds a
-- random token; only its SHA-256 is stored. Sessions slide (each use extends
-- them, written at most once a minute) up to an absolute lifetime.

create table public.sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  token_hash bytea not null unique check (length(token_hash) = 32),
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null
);
alter table public.sessions enable row level security;
create index sessions_user_id_idx on public.sessions (user_id);
-- No client may touch sessions at all: no privilege and no policy.
revoke all on table public.sessions from anon, authenticated;
grant all on table public.sessions to service_role;

create function keygate.create_session(p_user_id uuid, p_token_hash bytea, p_ttl_seconds integer)
returns timestamptz
language sql
security definer
set search_path = ''
as $$
  insert into public.sessions (user_id, token_hash, expires_at)
  values (p_user_id, p_token_hash, now() + make_interval(secs => p_ttl_seconds))
  returning expires_at
$$;

-- The session's active user, or no row. Slides the expiry (at most once a
-- minute) but never past p_max_lifetime_seconds after creation; the lifetime
-- is checked on every read, so shortening it takes effect at once.
create function keygate.get_session(p_token_hash bytea, p_ttl_seconds integer, p_max_lifetime_seconds integer)
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

create function keygate.end_session(p_token_hash bytea) returns boolean
language sql
security definer
set search_path = ''
as $$
  with gone as (delete from public.sessions where token_hash = p_token_hash returning 1)
  select exists (select 1 from gone)
$$;

revoke execute on function
  keygate.create_session(uuid, bytea, integer),
  keygate.get_session(bytea, integer, integer),
  keygate.end_session(bytea)
  from public, anon, authenticated;
grant execute on function
  keygate.create_session(uuid, bytea, integer),
  keygate.get_session(bytea, integer, integer),
  keygate.end_session(bytea)
  to service_role;
