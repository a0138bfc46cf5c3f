-- Users who signed in with OAuth (the seed's users table, hardened).
--
-- Why: the profile (email, name, image) of everyone who signs in lands here.
-- Only the service role may write it, through SQL functions in the private
-- `keygate` schema; a signed-in user may read their own row and nothing else.
-- The seed kept a plaintext `api_key uuid` here; keys now live hashed in
-- `api_keys` (see 20261123000300_api_keys.sql).

-- Private schema for the write functions: not exposed by the Data API, and
-- nothing in it is executable by clients unless granted one by one.
create schema if not exists keygate;
revoke all on schema keygate from public;
grant usage on schema keygate to service_role;
alter default privileges in schema keygate revoke execute on functions from public;

create table public.users (
  id uuid primary key default gen_random_uuid(),
  email text not null check (length(email) between 3 and 320 and position('@' in email) > 1),
  name text check (length(name) <= 200),
  image_url text check (length(image_url) <= 2048),
  role text not null default 'viewer' check (role in ('viewer', 'member', 'admin')),
  is_active boolean not null default true,
  last_login_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.users enable row level security;

-- One account per address, whatever its case.
create unique index users_email_lower_key on public.users (lower(email));

-- Clients get no write privilege at all; RLS is the second wall, not the first.
revoke all on table public.users from anon, authenticated;
grant select on table public.users to authenticated;
grant all on table public.users to service_role;

create policy "Enable insert for service role" on public.users
  for insert to service_role with check (true);
create policy "Enable update for service role" on public.users
  for update to service_role using (true) with check (true);

-- Keeps updated_at true whoever writes the row.
create function keygate.touch_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

create trigger users_touch_updated_at
  before update on public.users
  for each row execute function keygate.touch_updated_at();
