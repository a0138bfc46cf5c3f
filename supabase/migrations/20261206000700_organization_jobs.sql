-- Jobs owned by organizations.
--
-- Why: an organization's key (20261206000600_organization_keys.sql) submits
-- and works jobs, and those jobs are the organization's, not its member's who
-- made the key: every key of the organization sees one queue, and a member's
-- removal or deletion leaves it whole. A job belongs to exactly one of a user
-- or an organization (jobs_one_owner), as a key does; `owner_id` is whichever
-- it is, so the queue's functions and indexes ask one column. User and
-- organization ids are random uuids of two tables and never coincide, so an
-- id names one owner.
--
-- Every job function now takes p_owner_id (a user's id or an organization's)
-- where it took p_user_id, and behaves as before otherwise. Submissions of
-- one owner take turns on the owner's row, the user's or the organization's,
-- so the per-minute rate and the cap on unfinished jobs count an
-- organization as a whole, across all of its keys. Members read their
-- organizations' jobs through RLS, as they read its keys; clients still
-- write nothing.
--
-- user_id and org_id keep an index each for their foreign keys' cascades
-- (and the read policies), now that the owner's indexes are on owner_id.

-- Bounded waits: this alters public.jobs, which every worker uses.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- The functions name their parameter p_owner_id now: a new signature, so drop first.
drop function keygate.create_job(uuid, uuid, text, jsonb, timestamptz, integer, integer, text, integer, integer, integer);
drop function keygate.list_jobs(uuid, text, text, bigint, uuid, integer);
drop function keygate.count_jobs(uuid);
drop function keygate.get_job(uuid, uuid);
drop function keygate.claim_jobs(uuid, uuid, text[], integer, integer);
drop function keygate.heartbeat_job(uuid, uuid, uuid, integer, jsonb, integer);
drop function keygate.complete_job(uuid, uuid, uuid, integer, jsonb);
drop function keygate.fail_job(uuid, uuid, uuid, integer, text, boolean, integer, integer);
drop function keygate.cancel_job(uuid, uuid);

-- An organization's job has no user; readers of user_id see it only on a user's jobs.
-- squawk-ignore ban-drop-not-null
alter table public.jobs alter column user_id drop not null;
alter table public.jobs
  add column org_id uuid references public.organizations (id) on delete cascade,
  add constraint jobs_one_owner check ((user_id is null) <> (org_id is null));
-- A stored generated column rewrites the table under its lock: bounded by the
-- timeouts above, so a queue too large to rewrite in 60 s fails the migration
-- instead of blocking its workers.
-- squawk-ignore adding-field-with-default
alter table public.jobs add column owner_id uuid generated always as (coalesce(org_id, user_id)) stored;

-- The owner's indexes, on owner_id (20261123000400_jobs.sql, 20261129000400_jobs_queue.sql).
drop index public.jobs_user_id_created_at_idx;
drop index public.jobs_claim_idx;
drop index public.jobs_lease_idx;
drop index public.jobs_idempotency_key_idx;
-- Listing: the owner's jobs, newest first.
create index jobs_owner_id_created_at_idx on public.jobs (owner_id, created_at desc);
-- Claims: the owner's due jobs, priority first, then oldest due.
create index jobs_claim_idx on public.jobs (owner_id, priority desc, run_at, created_at) where status = 'queued';
-- Reclaims: the owner's running jobs by lease end.
create index jobs_lease_idx on public.jobs (owner_id, lease_expires_at) where status = 'running';
-- One job per owner and Idempotency-Key, even under concurrent submissions.
create unique index jobs_idempotency_key_idx on public.jobs (owner_id, idempotency_key) where idempotency_key is not null;
create index jobs_user_id_idx on public.jobs (user_id) where user_id is not null;
create index jobs_org_id_idx on public.jobs (org_id) where org_id is not null;

create policy "Members can read their organizations' jobs" on public.jobs
  for select to authenticated using (org_id in (select keygate.org_ids_for_current_user()));

-- Submits a job. Outcomes: `created`; `replayed` (the Idempotency-Key was
-- seen with the same request: the first job's id and created_at);
-- `idempotency_key_reused` (seen with another request); `rate_limited`
-- (p_max_per_minute jobs created in the last minute; retry_after in seconds);
-- `job_limit_reached` (p_max_unfinished jobs queued or running). Each call
-- also deletes up to 100 jobs finished more than p_retention_days ago, of any
-- owner, so retention needs no cron. The job is the organization's when
-- p_owner_id is an organization's id, else the user's. Creators of one owner
-- take turns on the owner's row (the user's or the organization's), so the
-- rate and the cap are counted exactly; the unique index on (owner_id,
-- idempotency_key) is what makes one job per key in any case.
create function keygate.create_job(
  p_owner_id uuid,
  p_api_key_id uuid,
  p_type text,
  p_payload jsonb,
  p_run_at timestamptz default null,
  p_max_attempts integer default 3,
  p_priority integer default 0,
  p_idempotency_key text default null,
  p_max_per_minute integer default 600,
  p_max_unfinished integer default 1000,
  p_retention_days integer default 7
) returns table (outcome text, job_id uuid, job_created_at timestamptz, retry_after integer)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_hash bytea := sha256(convert_to(jsonb_build_object(
    'type', p_type, 'payload', coalesce(p_payload, '{}'), 'run_at', extract(epoch from p_run_at),
    'max_attempts', p_max_attempts, 'priority', p_priority)::text, 'UTF8'));
  v_is_org boolean := exists (select 1 from public.organizations where id = p_owner_id);
  v_job public.jobs;
  v_recent integer;
  v_oldest timestamptz;
begin
  if v_is_org then
    perform 1 from public.organizations where id = p_owner_id for no key update;
  else
    perform 1 from public.users where id = p_owner_id for no key update;
  end if;

  delete from public.jobs where id in (
    select id from public.jobs
     where status in ('succeeded', 'failed', 'canceled')
       and finished_at < now() - make_interval(days => p_retention_days)
     order by finished_at limit 100
       for update skip locked);

  if p_idempotency_key is not null then
    select * into v_job from public.jobs where owner_id = p_owner_id and idempotency_key = p_idempotency_key;
    if found then
      return query select case when v_job.request_hash = v_hash then 'replayed' else 'idempotency_key_reused' end,
        v_job.id, v_job.created_at, null::integer;
      return;
    end if;
  end if;

  select count(*), min(r.created_at) into v_recent, v_oldest from (
    select j.created_at from public.jobs j
     where j.owner_id = p_owner_id and j.created_at > now() - interval '1 minute'
     order by j.created_at desc limit p_max_per_minute) r;
  if v_recent >= p_max_per_minute then
    return query select 'rate_limited', null::uuid, null::timestamptz,
      greatest(1, ceil(extract(epoch from v_oldest + interval '1 minute' - now())))::integer;
    return;
  end if;

  if (select count(*) from (
        select 1 from public.jobs j
         where j.owner_id = p_owner_id and j.status in ('queued', 'running') limit p_max_unfinished) u
     ) >= p_max_unfinished then
    return query select 'job_limit_reached', null::uuid, null::timestamptz, null::integer;
    return;
  end if;

  insert into public.jobs (user_id, org_id, api_key_id, type, payload, run_at, max_attempts, priority, idempotency_key,
                           request_hash)
  values (case when not v_is_org then p_owner_id end, case when v_is_org then p_owner_id end, p_api_key_id, p_type,
          coalesce(p_payload, '{}'), coalesce(p_run_at, now()), p_max_attempts, p_priority, p_idempotency_key,
          case when p_idempotency_key is not null then v_hash end)
  on conflict (owner_id, idempotency_key) where idempotency_key is not null do nothing
  returning * into v_job;
  if v_job.id is null then
    select * into v_job from public.jobs where owner_id = p_owner_id and idempotency_key = p_idempotency_key;
    return query select case when v_job.request_hash = v_hash then 'replayed' else 'idempotency_key_reused' end,
      v_job.id, v_job.created_at, null::integer;
    return;
  end if;
  return query select 'created', v_job.id, v_job.created_at, null::integer;
end;
$$;

-- The owner's jobs, newest first, at most p_limit (1..100), optionally of one
-- status and one type, after the cursor (created_at in microseconds since
-- the epoch, and id) of the last job of the previous page.
create function keygate.list_jobs(
  p_owner_id uuid,
  p_status text default null,
  p_type text default null,
  p_cursor_us bigint default null,
  p_cursor_id uuid default null,
  p_limit integer default 50
) returns setof public.jobs
language plpgsql stable
security definer
set search_path = ''
as $$
declare
  v_cursor timestamptz := timestamptz 'epoch' + p_cursor_us * interval '1 microsecond';
begin
  return query
    select * from public.jobs j
     where j.owner_id = p_owner_id
       and (p_status is null or j.status = p_status)
       and (p_type is null or j.type = p_type)
       and (p_cursor_us is null or (j.created_at, j.id) < (v_cursor, p_cursor_id))
     order by j.created_at desc, j.id desc
     limit least(greatest(coalesce(p_limit, 50), 1), 100);
end;
$$;

-- How many of the owner's jobs are in each status.
create function keygate.count_jobs(p_owner_id uuid) returns table (status text, count bigint)
language sql stable
security definer
set search_path = ''
as $$
  select j.status, count(*) from public.jobs j where j.owner_id = p_owner_id group by j.status order by j.status
$$;

-- One job of the owner's.
create function keygate.get_job(p_owner_id uuid, p_job_id uuid)
returns setof public.jobs
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  return query
    select * from public.jobs j where j.owner_id = p_owner_id and j.id = p_job_id;
end;
$$;

-- Hands out up to p_limit of the owner's due queued jobs (of p_types, when
-- given), priority first, then oldest due: each becomes `running`, claimed
-- by p_api_key_id, with attempts + 1 and a lease of p_lease_seconds.
-- `skip locked` means concurrent claimers never wait for, nor get, the same
-- job. First, the owner's running jobs whose lease ended go back to `queued`
-- (or to `failed` when out of attempts): a crashed worker's jobs are
-- recovered by the next claim, with no cron.
create function keygate.claim_jobs(
  p_owner_id uuid,
  p_api_key_id uuid,
  p_types text[] default null,
  p_limit integer default 1,
  p_lease_seconds integer default 300
) returns setof public.jobs
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.jobs j
     set status = case when j.attempts >= j.max_attempts then 'failed' else 'queued' end,
         finished_at = case when j.attempts >= j.max_attempts then now() end,
         run_at = now(),
         lease_expires_at = null,
         error = 'The lease expired before the worker finished the job.'
   where j.id in (
     select e.id from public.jobs e
      where e.owner_id = p_owner_id and e.status = 'running' and e.lease_expires_at < now()
        for update skip locked);

  return query
    with picked as (
      select q.id from public.jobs q
       where q.owner_id = p_owner_id and q.status = 'queued' and q.run_at <= now()
         and (p_types is null or q.type = any (p_types))
       order by q.priority desc, q.run_at, q.created_at, q.id
       limit least(greatest(coalesce(p_limit, 1), 1), 100)
         for update skip locked
    ), claimed as (
      update public.jobs j
         set status = 'running',
             attempts = j.attempts + 1,
             claimed_by_key_id = p_api_key_id,
             lease_seconds = p_lease_seconds,
             lease_expires_at = now() + make_interval(secs => p_lease_seconds),
             started_at = coalesce(j.started_at, now()),
             progress = null
        from picked p
       where j.id = p.id
      returning j.*
    )
    select * from claimed c order by c.priority desc, c.run_at, c.created_at, c.id;
end;
$$;

-- The transitions of a running job, allowed only to the key that claimed it
-- and, when p_attempt is given, only for that attempt (a worker whose lease
-- was reclaimed and handed out again, even to the same key, is refused).
-- Each returns the changed job, or no row when it does not apply.

-- Extends the lease by p_lease_seconds (default: the claim's) and records progress when given.
create function keygate.heartbeat_job(
  p_owner_id uuid,
  p_api_key_id uuid,
  p_job_id uuid,
  p_attempt integer default null,
  p_progress jsonb default null,
  p_lease_seconds integer default null
) returns setof public.jobs
language sql
security definer
set search_path = ''
as $$
  update public.jobs j
     set lease_expires_at = now() + make_interval(secs => coalesce(p_lease_seconds, j.lease_seconds, 300)),
         lease_seconds = coalesce(p_lease_seconds, j.lease_seconds),
         progress = coalesce(p_progress, j.progress)
   where j.id = p_job_id and j.owner_id = p_owner_id and j.status = 'running'
     and j.claimed_by_key_id = p_api_key_id and (p_attempt is null or j.attempts = p_attempt)
  returning j.*
$$;

create function keygate.complete_job(
  p_owner_id uuid,
  p_api_key_id uuid,
  p_job_id uuid,
  p_attempt integer default null,
  p_result jsonb default null
) returns setof public.jobs
language sql
security definer
set search_path = ''
as $$
  update public.jobs j
     set status = 'succeeded', result = p_result, error = null, lease_expires_at = null, finished_at = now()
   where j.id = p_job_id and j.owner_id = p_owner_id and j.status = 'running'
     and j.claimed_by_key_id = p_api_key_id and (p_attempt is null or j.attempts = p_attempt)
  returning j.*
$$;

-- A failure with attempts left (and p_retry) goes back to `queued`, due after
-- p_backoff_base_seconds * 2^(attempts - 1), at most p_backoff_max_seconds;
-- otherwise the job is `failed`.
create function keygate.fail_job(
  p_owner_id uuid,
  p_api_key_id uuid,
  p_job_id uuid,
  p_attempt integer,
  p_error text,
  p_retry boolean default true,
  p_backoff_base_seconds integer default 10,
  p_backoff_max_seconds integer default 3600
) returns setof public.jobs
language sql
security definer
set search_path = ''
as $$
  update public.jobs j
     set status = case when p_retry and j.attempts < j.max_attempts then 'queued' else 'failed' end,
         run_at = case when p_retry and j.attempts < j.max_attempts
                       then now() + make_interval(secs => least(p_backoff_max_seconds::double precision,
                                                                 p_backoff_base_seconds * power(2, j.attempts - 1)))
                       else j.run_at end,
         finished_at = case when p_retry and j.attempts < j.max_attempts then null else now() end,
         error = p_error,
         lease_expires_at = null
   where j.id = p_job_id and j.owner_id = p_owner_id and j.status = 'running'
     and j.claimed_by_key_id = p_api_key_id and (p_attempt is null or j.attempts = p_attempt)
  returning j.*
$$;

-- Cancels a queued or running job of the owner (a running job's worker
-- learns it at its next heartbeat, which is refused).
create function keygate.cancel_job(p_owner_id uuid, p_job_id uuid) returns setof public.jobs
language sql
security definer
set search_path = ''
as $$
  update public.jobs j
     set status = 'canceled', lease_expires_at = null, finished_at = now()
   where j.id = p_job_id and j.owner_id = p_owner_id and j.status in ('queued', 'running')
  returning j.*
$$;

revoke execute on function
  keygate.create_job(uuid, uuid, text, jsonb, timestamptz, integer, integer, text, integer, integer, integer),
  keygate.list_jobs(uuid, text, text, bigint, uuid, integer),
  keygate.count_jobs(uuid),
  keygate.get_job(uuid, uuid),
  keygate.claim_jobs(uuid, uuid, text[], integer, integer),
  keygate.heartbeat_job(uuid, uuid, uuid, integer, jsonb, integer),
  keygate.complete_job(uuid, uuid, uuid, integer, jsonb),
  keygate.fail_job(uuid, uuid, uuid, integer, text, boolean, integer, integer),
  keygate.cancel_job(uuid, uuid)
  from public, anon, authenticated;
grant execute on function
  keygate.create_job(uuid, uuid, text, jsonb, timestamptz, integer, integer, text, integer, integer, integer),
  keygate.list_jobs(uuid, text, text, bigint, uuid, integer),
  keygate.count_jobs(uuid),
  keygate.get_job(uuid, uuid),
  keygate.claim_jobs(uuid, uuid, text[], integer, integer),
  keygate.heartbeat_job(uuid, uuid, uuid, integer, jsonb, integer),
  keygate.complete_job(uuid, uuid, uuid, integer, jsonb),
  keygate.fail_job(uuid, uuid, uuid, integer, text, boolean, integer, integer),
  keygate.cancel_job(uuid, uuid)
  to service_role;
