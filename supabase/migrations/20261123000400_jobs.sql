-- Jobs that backend services submit with an API key.
--
-- Why: this is what keys are for. Each job belongs to the key's owner and
-- records which key created it; owners may read their own jobs, clients write
-- nothing.

create table public.jobs (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  api_key_id uuid references public.api_keys (id) on delete set null,
  type text not null check (type ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
  payload jsonb not null default '{}' check (jsonb_typeof(payload) = 'object'),
  status text not null default 'queued'
    check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.jobs enable row level security;
create index jobs_user_id_created_at_idx on public.jobs (user_id, created_at desc);

revoke all on table public.jobs from anon, authenticated;
grant select on table public.jobs to authenticated;
grant all on table public.jobs to service_role;

create policy "Users can read their own jobs" on public.jobs
  for select to authenticated using (user_id = (select keygate.current_user_id()));

create trigger jobs_touch_updated_at
  before update on public.jobs
  for each row execute function keygate.touch_updated_at();

create function keygate.create_job(p_user_id uuid, p_api_key_id uuid, p_type text, p_payload jsonb)
returns public.jobs
language sql
security definer
set search_path = ''
as $$
  insert into public.jobs (user_id, api_key_id, type, payload)
  values (p_user_id, p_api_key_id, p_type, coalesce(p_payload, '{}'))
  returning *
$$;

-- Newest first, at most p_limit (1..100).
create function keygate.list_jobs(p_user_id uuid, p_limit integer default 50)
returns setof public.jobs
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  return query
    select * from public.jobs j where j.user_id = p_user_id
     order by j.created_at desc, j.id
     limit least(greatest(coalesce(p_limit, 50), 1), 100);
end;
$$;

create function keygate.get_job(p_user_id uuid, p_job_id uuid)
returns setof public.jobs
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  return query
    select * from public.jobs j where j.user_id = p_user_id and j.id = p_job_id;
end;
$$;

revoke execute on function
  keygate.create_job(uuid, uuid, text, jsonb),
  keygate.list_jobs(uuid, integer),
  keygate.get_job(uuid, uuid)
  from public, anon, authenticated;
grant execute on function
  keygate.create_job(uuid, uuid, text, jsonb),
  keygate.list_jobs(uuid, integer),
  keygate.get_job(uuid, uuid)
  to service_role;
