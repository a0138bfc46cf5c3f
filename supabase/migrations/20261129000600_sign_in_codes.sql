-- Single-use sign-in codes for dashboards on another site.
--
-- Why: without a custom domain a hosted project serves no HTML from its
-- functions, so the dashboard is a static site on another origin, where the
-- SameSite=Lax session cookie is never sent. After a successful OAuth callback
-- that asked for it (with a PKCE-style S256 code_challenge), the auth function
-- returns to the dashboard with a random code in the URL fragment instead of
-- setting the cookie; the page exchanges the code, with the verifier it made
-- before sign-in, for a session token it sends as `Authorization: Bearer`.
-- A code lives 60 seconds, works once, only with its verifier and only from
-- the origin it was sent to. Only its SHA-256 is stored.

-- Bounded waits: a busy table makes this migration fail fast instead of
-- queueing every query behind its lock.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

create table public.sign_in_codes (
  code_hash bytea primary key check (length(code_hash) = 32),
  user_id uuid not null references public.users (id) on delete cascade,
  -- base64url(SHA-256(code_verifier)): public, it travelled in the login URL.
  code_challenge text not null check (code_challenge ~ '^[A-Za-z0-9_-]{43}$'),
  -- The origin of redirect_to: the only origin that may redeem the code.
  origin text not null check (length(origin) between 1 and 2048),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  check (expires_at > created_at and expires_at <= created_at + interval '10 minutes')
);
alter table public.sign_in_codes enable row level security;
create index sign_in_codes_user_id_idx on public.sign_in_codes (user_id);
create index sign_in_codes_expires_at_idx on public.sign_in_codes (expires_at);
-- No client may touch sign-in codes at all: no privilege and no policy.
revoke all on table public.sign_in_codes from anon, authenticated;
grant all on table public.sign_in_codes to service_role;

-- Stores a new code (its hash) for a signed-in user, and sweeps expired ones
-- so the table stays small. Returns when the code expires.
create function keygate.create_sign_in_code(
  p_user_id uuid,
  p_code_hash bytea,
  p_code_challenge text,
  p_origin text,
  p_ttl_seconds integer
) returns timestamptz
language sql
security definer
set search_path = ''
as $$
  with swept as (
    delete from public.sign_in_codes where expires_at <= now()
  )
  insert into public.sign_in_codes (code_hash, user_id, code_challenge, origin, expires_at)
  values (p_code_hash, p_user_id, p_code_challenge, p_origin, now() + make_interval(secs => p_ttl_seconds))
  returning expires_at
$$;

-- Redeems a code: in one statement, deletes it and creates a session (token
-- hash p_token_hash) for its user, but only when the code exists, has not
-- expired, matches the challenge and origin, and the user is active.
-- Otherwise returns no row and writes nothing. Two concurrent redemptions of
-- one code cannot both succeed: the second finds the row deleted.
create function keygate.redeem_sign_in_code(
  p_code_hash bytea,
  p_code_challenge text,
  p_origin text,
  p_token_hash bytea,
  p_ttl_seconds integer
) returns table (user_id uuid, expires_at timestamptz)
language sql
security definer
set search_path = ''
as $$
  with used as (
    delete from public.sign_in_codes c
     where c.code_hash = p_code_hash
       and c.code_challenge = p_code_challenge
       and c.origin = p_origin
       and c.expires_at > now()
       and exists (select 1 from public.users u where u.id = c.user_id and u.is_active)
    returning c.user_id
  )
  insert into public.sessions (user_id, token_hash, expires_at)
  select used.user_id, p_token_hash, now() + make_interval(secs => p_ttl_seconds) from used
  returning sessions.user_id, sessions.expires_at
$$;

revoke execute on function
  keygate.create_sign_in_code(uuid, bytea, text, text, integer),
  keygate.redeem_sign_in_code(bytea, text, text, bytea, integer)
  from public, anon, authenticated;
grant execute on function
  keygate.create_sign_in_code(uuid, bytea, text, text, integer),
  keygate.redeem_sign_in_code(bytea, text, text, bytea, integer)
  to service_role;
