-- Shared counters: counts by bucket and fixed window that every isolate of
-- every function adds to, for limits that must hold across the cluster.
--
-- Why: a function runs in many isolates, so a limit kept in each isolate's
-- memory admits its limit once per isolate (the failure limit on key
-- verifications admitted 60 a minute times the number of isolates). Each
-- isolate now counts in memory and, at most every couple of seconds and only
-- while it has something to add, adds all of its counts here in one
-- statement, which answers with the cluster totals of the same buckets
-- (functions/_shared/counters/). Never a write per request.
--
-- A row is one bucket (such as `key_failures:198.51.100.7`) in one fixed
-- window: `window_seconds` long, starting at `window_start` (a multiple of
-- the window since the Unix epoch, so every isolate names the same window),
-- kept until `expires_at` (the window's end plus what the caller asked to
-- keep). Every flush deletes a bounded batch of expired rows, at least as
-- many as it can have created, so the table keeps pace with any load on any
-- Postgres without a scheduler.
--
-- Buckets name client addresses and accounts: no client role may read or
-- write the table, and the service role only through
-- keygate.add_to_shared_counters().

-- Bounded waits: a busy database makes this migration fail fast instead of
-- queueing every query behind its lock.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

create table public.shared_counters (
  bucket text not null check (length(bucket) between 1 and 200),
  -- At most a year and a day: quotas per month and usage per hour fit.
  window_seconds integer not null check (window_seconds between 1 and 31708800),
  window_start timestamptz not null,
  count bigint not null check (count > 0),
  expires_at timestamptz not null,
  primary key (bucket, window_seconds, window_start)
);
alter table public.shared_counters enable row level security;
create index shared_counters_expires_at_idx on public.shared_counters (expires_at);

-- No policy and no privilege: the functions reach it through the function below.
revoke all on table public.shared_counters from public, anon, authenticated, service_role;

-- Adds one isolate's counts (parallel arrays, one element per bucket and
-- window; a bucket repeated is summed) and returns, for each bucket and
-- window, the cluster total after the addition. Rows are locked in one order
-- (bucket, window), so concurrent flushes of overlapping buckets never
-- deadlock. Then deletes at most 100 + 2 x (elements) expired rows, skipping
-- rows another flush holds. Refuses (22023) more than 20000 elements, an
-- increment below 1, a negative keep or more than 400 days of it, and a
-- window start that is not a multiple of its window.
create function keygate.add_to_shared_counters(
  p_buckets text[],
  p_window_seconds integer[],
  p_window_starts bigint[],
  p_increments bigint[],
  p_keep_seconds integer[]
) returns table (bucket text, window_seconds integer, window_start bigint, total bigint)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_n integer := coalesce(cardinality(p_buckets), 0);
begin
  if v_n > 20000
     or v_n <> coalesce(cardinality(p_window_seconds), 0)
     or v_n <> coalesce(cardinality(p_window_starts), 0)
     or v_n <> coalesce(cardinality(p_increments), 0)
     or v_n <> coalesce(cardinality(p_keep_seconds), 0) then
    raise exception 'shared counters: at most 20000 elements, the same number in every array' using errcode = '22023';
  end if;
  if exists (
    select 1
      from unnest(p_window_seconds, p_window_starts, p_increments, p_keep_seconds) as i(w, s, n, k)
     where w is null or s is null or n is null or k is null
        or w < 1 or n < 1 or k < 0 or k > 34560000 or s % w <> 0
  ) then
    raise exception 'shared counters: an increment, window or keep is not acceptable' using errcode = '22023';
  end if;

  return query
    with added as (
      insert into public.shared_counters as c (bucket, window_seconds, window_start, count, expires_at)
      select i.b, i.w, to_timestamp(i.s), sum(i.n), to_timestamp(i.s + i.w + max(i.k))
        from unnest(p_buckets, p_window_seconds, p_window_starts, p_increments, p_keep_seconds) as i(b, w, s, n, k)
       group by i.b, i.w, i.s
       order by i.b, i.w, i.s
      on conflict (bucket, window_seconds, window_start) do update
        set count = c.count + excluded.count,
            expires_at = greatest(c.expires_at, excluded.expires_at)
      returning c.bucket, c.window_seconds, extract(epoch from c.window_start)::bigint, c.count
    )
    select * from added;

  delete from public.shared_counters
   where (bucket, window_seconds, window_start) in (
     select o.bucket, o.window_seconds, o.window_start
       from public.shared_counters o
      where o.expires_at < now()
      order by o.expires_at
      limit 100 + 2 * v_n
        for update skip locked
   );
end;
$$;

revoke execute on function keygate.add_to_shared_counters(text[], integer[], bigint[], bigint[], integer[])
  from public, anon, authenticated;
grant execute on function keygate.add_to_shared_counters(text[], integer[], bigint[], bigint[], integer[])
  to service_role;
