-- keygate.find_user_by_identity returns no row for an unknown identity.
--
-- Why: declared as `returns public.users`, it answered an unknown identity
-- with one row of nulls, which every caller had to recognise by `id is null`.
-- As `returns setof public.users` "not found" is simply no row.

drop function keygate.find_user_by_identity(text, text);

create function keygate.find_user_by_identity(p_provider text, p_subject text)
returns setof public.users
language sql stable
security definer
set search_path = ''
as $$
  select u.* from public.user_identities i join public.users u on u.id = i.user_id
   where i.provider = p_provider and i.subject = p_subject
$$;

revoke execute on function keygate.find_user_by_identity(text, text) from public, anon, authenticated;
grant execute on function keygate.find_user_by_identity(text, text) to service_role;
