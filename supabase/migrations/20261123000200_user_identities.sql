-- Provider identities of a user, and the sign-in upsert.
--
-- Why: a login is matched by (provider, subject), never by email alone, so a
-- provider that lets anyone claim any address cannot take over an account. An
-- email links a new identity to an existing user only when the provider marks
-- it verified. Concurrent first logins of one identity must yield one user.

create table public.user_identities (
  provider text not null check (provider ~ '^[a-z][a-z0-9_-]{0,31}$'),
  subject text not null check (length(subject) between 1 and 255),
  user_id uuid not null references public.users (id) on delete cascade,
  email text,
  created_at timestamptz not null default now(),
  last_login_at timestamptz,
  primary key (provider, subject)
);
alter table public.user_identities enable row level security;
create index user_identities_user_id_idx on public.user_identities (user_id);

revoke all on table public.user_identities from anon, authenticated;
grant select on table public.user_identities to authenticated;
grant all on table public.user_identities to service_role;

-- The Keygate user behind the caller's Supabase Auth token: the user whose id
-- is the token's `sub`, or who is linked to it as identity (supabase, sub).
create function keygate.current_user_id() returns uuid
language sql stable
security definer
set search_path = ''
as $$
  select u.id from public.users u where u.id = (select auth.uid())
  union all
  select i.user_id from public.user_identities i
   where i.provider = 'supabase' and i.subject = (select auth.uid())::text
  limit 1
$$;
revoke execute on function keygate.current_user_id() from public, anon;
grant usage on schema keygate to authenticated;
grant execute on function keygate.current_user_id() to authenticated, service_role;

create policy "Users can read their own profile" on public.users
  for select to authenticated using (id = (select keygate.current_user_id()));

create policy "Users can read their own identities" on public.user_identities
  for select to authenticated using (user_id = (select keygate.current_user_id()));

-- Signs a user in from a provider's verified profile. Returns the user row.
-- Raises KG002 when the email is not verified, KG001 when the user is
-- inactive. A known identity whose provider now reports an address another
-- account holds keeps its old address. Any raise rolls back every write.
create function keygate.upsert_user_from_identity(
  p_provider text,
  p_subject text,
  p_email text,
  p_email_verified boolean,
  p_name text default null,
  p_image_url text default null
) returns public.users
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_id uuid;
  v_user public.users;
begin
  if p_provider is null or p_subject is null or p_subject = '' then
    raise exception 'provider and subject are required' using errcode = '22023';
  end if;
  if p_email is null or p_email !~ '^[^@[:space:]]+@[^@[:space:]]+$' then
    raise exception 'a valid email is required' using errcode = '22023';
  end if;
  if not coalesce(p_email_verified, false) then
    raise exception 'email address is not verified' using errcode = 'KG002';
  end if;

  -- Serialise concurrent logins of one identity (and of one address).
  perform pg_advisory_xact_lock(hashtextextended('identity:' || p_provider || ':' || p_subject, 0));
  perform pg_advisory_xact_lock(hashtextextended('email:' || lower(p_email), 0));

  select user_id into v_user_id
    from public.user_identities
   where provider = p_provider and subject = p_subject;

  if v_user_id is null then
    select id into v_user_id from public.users where lower(email) = lower(p_email);
    if v_user_id is null then
      insert into public.users (id, email, name, image_url)
      values (
        -- Supabase Auth subjects are uuids: reuse them so auth.uid() = users.id.
        case when p_provider = 'supabase'
              and p_subject ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              and not exists (select 1 from public.users where id = p_subject::uuid)
             then p_subject::uuid else gen_random_uuid() end,
        p_email, left(p_name, 200), left(p_image_url, 2048)
      )
      returning id into v_user_id;
    end if;
    insert into public.user_identities (provider, subject, user_id, email)
    values (p_provider, p_subject, v_user_id, p_email);
  end if;

  select * into v_user from public.users where id = v_user_id for update;
  if not v_user.is_active then
    raise exception 'user is inactive' using errcode = 'KG001';
  end if;

  update public.users
     set email = case
                   when lower(p_email) = lower(email) then email
                   when exists (select 1 from public.users o where lower(o.email) = lower(p_email) and o.id <> v_user_id)
                     then email
                   else p_email
                 end,
         name = coalesce(left(p_name, 200), name),
         image_url = coalesce(left(p_image_url, 2048), image_url),
         last_login_at = now()
   where id = v_user_id
   returning * into v_user;

  update public.user_identities
     set email = p_email, last_login_at = now()
   where provider = p_provider and subject = p_subject;

  return v_user;
end;
$$;

-- Reads the user linked to an identity without writing anything (no row if unknown).
create function keygate.find_user_by_identity(p_provider text, p_subject text)
returns setof public.users
language sql stable
security definer
set search_path = ''
as $$
  select u.* from public.user_identities i join public.users u on u.id = i.user_id
   where i.provider = p_provider and i.subject = p_subject
$$;

-- Turns an account on or off (an inactive user cannot sign in or use keys).
create function keygate.set_user_active(p_user_id uuid, p_active boolean) returns boolean
language sql
security definer
set search_path = ''
as $$
  update public.users set is_active = p_active where id = p_user_id returning true
$$;

revoke execute on function
  keygate.upsert_user_from_identity(text, text, text, boolean, text, text),
  keygate.find_user_by_identity(text, text),
  keygate.set_user_active(uuid, boolean),
  keygate.touch_updated_at()
  from public, anon, authenticated;
grant execute on function
  keygate.upsert_user_from_identity(text, text, text, boolean, text, text),
  keygate.find_user_by_identity(text, text),
  keygate.set_user_active(uuid, boolean)
  to service_role;
