-- The job queue's guarantees at the SQL level: clients (anon, authenticated)
-- hold no write privilege on public.jobs, not even on their own rows, and
-- cannot run any queue function; only service_role can. Everything runs in one
-- transaction that is rolled back.
begin;
\ir helpers.psql

select plan(33);

select table_privs_are('public', 'jobs', 'anon', array[]::text[], 'anon holds no privilege on jobs');
select table_privs_are('public', 'jobs', 'authenticated', array['SELECT'], 'authenticated may only select jobs');
select is_empty(
  $$ select a.attname from pg_attribute a
      where a.attrelid = 'public.jobs'::regclass and a.attnum > 0 and not a.attisdropped
        and (has_column_privilege('authenticated', a.attrelid, a.attnum, 'insert')
          or has_column_privilege('authenticated', a.attrelid, a.attnum, 'update')
          or has_column_privilege('anon', a.attrelid, a.attnum, 'insert')
          or has_column_privilege('anon', a.attrelid, a.attnum, 'update')) $$,
  'no client may insert or update any column of jobs'
);

-- Every queue function: service_role only.
select function_privs_are('keygate', f, args, 'anon', array[]::text[], format('anon cannot execute keygate.%s', f))
  from (values
    ('create_job', array['uuid', 'uuid', 'text', 'jsonb', 'timestamp with time zone', 'integer', 'integer', 'text', 'integer', 'integer', 'integer']),
    ('list_jobs', array['uuid', 'text', 'text', 'bigint', 'uuid', 'integer']),
    ('count_jobs', array['uuid']),
    ('claim_jobs', array['uuid', 'uuid', 'text[]', 'integer', 'integer']),
    ('heartbeat_job', array['uuid', 'uuid', 'uuid', 'integer', 'jsonb', 'integer']),
    ('complete_job', array['uuid', 'uuid', 'uuid', 'integer', 'jsonb']),
    ('fail_job', array['uuid', 'uuid', 'uuid', 'integer', 'text', 'boolean', 'integer', 'integer']),
    ('cancel_job', array['uuid', 'uuid'])
  ) as fns (f, args);
select function_privs_are('keygate', f, args, 'authenticated', array[]::text[], format('authenticated cannot execute keygate.%s', f))
  from (values
    ('create_job', array['uuid', 'uuid', 'text', 'jsonb', 'timestamp with time zone', 'integer', 'integer', 'text', 'integer', 'integer', 'integer']),
    ('list_jobs', array['uuid', 'text', 'text', 'bigint', 'uuid', 'integer']),
    ('count_jobs', array['uuid']),
    ('claim_jobs', array['uuid', 'uuid', 'text[]', 'integer', 'integer']),
    ('heartbeat_job', array['uuid', 'uuid', 'uuid', 'integer', 'jsonb', 'integer']),
    ('complete_job', array['uuid', 'uuid', 'uuid', 'integer', 'jsonb']),
    ('fail_job', array['uuid', 'uuid', 'uuid', 'integer', 'text', 'boolean', 'integer', 'integer']),
    ('cancel_job', array['uuid', 'uuid'])
  ) as fns (f, args);
select function_privs_are('keygate', f, args, 'service_role', array['EXECUTE'], format('service_role executes keygate.%s', f))
  from (values
    ('create_job', array['uuid', 'uuid', 'text', 'jsonb', 'timestamp with time zone', 'integer', 'integer', 'text', 'integer', 'integer', 'integer']),
    ('list_jobs', array['uuid', 'text', 'text', 'bigint', 'uuid', 'integer']),
    ('count_jobs', array['uuid']),
    ('claim_jobs', array['uuid', 'uuid', 'text[]', 'integer', 'integer']),
    ('heartbeat_job', array['uuid', 'uuid', 'uuid', 'integer', 'jsonb', 'integer']),
    ('complete_job', array['uuid', 'uuid', 'uuid', 'integer', 'jsonb']),
    ('fail_job', array['uuid', 'uuid', 'uuid', 'integer', 'text', 'boolean', 'integer', 'integer']),
    ('cancel_job', array['uuid', 'uuid'])
  ) as fns (f, args);

-- In action: the owner of a job can neither change it nor claim it from SQL.
insert into public.users (id, email) values ('c0000000-0000-4000-8000-00000000000c', 'pgtap-jobs@example.test');
insert into public.jobs (id, user_id, type) values
  ('c1000000-0000-4000-8000-00000000000c', 'c0000000-0000-4000-8000-00000000000c', 'pgtap-queue');

select tests.authenticate_as('c0000000-0000-4000-8000-00000000000c');
select results_eq($$ select status from public.jobs where type = 'pgtap-queue' $$, $$ values ('queued') $$, 'the owner reads their job');
select throws_ok($$ update public.jobs set status = 'succeeded', result = '{"forged": true}' where type = 'pgtap-queue' $$,
  '42501', null, 'the owner cannot complete their job by hand');
select throws_ok($$ delete from public.jobs where type = 'pgtap-queue' $$, '42501', null, 'the owner cannot delete their job');
select throws_ok($$ select * from keygate.claim_jobs('c0000000-0000-4000-8000-00000000000c', null) $$,
  '42501', null, 'the owner cannot claim jobs from SQL');
select throws_ok($$ select * from keygate.cancel_job('c0000000-0000-4000-8000-00000000000c', 'c1000000-0000-4000-8000-00000000000c') $$,
  '42501', null, 'the owner cannot cancel from SQL');
select tests.clear_authentication();
select results_eq($$ select status from public.jobs where type = 'pgtap-queue' $$, $$ values ('queued') $$, 'the job is unchanged');

select * from finish();
rollback;
