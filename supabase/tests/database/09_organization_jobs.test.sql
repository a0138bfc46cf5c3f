-- Organization jobs: exactly one owner per job, a job submitted for an
-- organization is its own, claims and transitions see only the claimant's
-- owner's queue, the per-owner rate and cap count the organization as a
-- whole across its keys, and members (not strangers) read the organization's
-- jobs through RLS. Rolled back at the end.
begin;
\ir helpers.psql

select plan(14);

select tests.create_user('pgtap-ojob-owner@example.test', 'member', 'e0000000-0000-4000-8000-000000000001');
select tests.create_user('pgtap-ojob-other@example.test', 'member', 'e0000000-0000-4000-8000-000000000002');
create temporary table org on commit drop as
  select id from keygate.create_organization('e0000000-0000-4000-8000-000000000001', 'Jobs', 'pgtap-jobs');
grant select on org to authenticated;

select throws_ok($$ insert into public.jobs (type) values ('orphan') $$, '23514', null, 'a job with no owner is refused');
select throws_ok($$ insert into public.jobs (user_id, org_id, type)
  select 'e0000000-0000-4000-8000-000000000001', id, 'both' from org $$, '23514', null, 'a job with two owners is refused');

select is((select outcome from keygate.create_job((select id from org), null, 'org-report', '{}')), 'created',
  'create_job takes an organization as owner');
select results_eq($$ select user_id, org_id, owner_id from public.jobs where type = 'org-report' $$,
  $$ select null::uuid, id, id from org $$, 'the job is the organization''s');
select is((select count(*) from keygate.claim_jobs('e0000000-0000-4000-8000-000000000001', null, null, 10, 60)),
  0::bigint, 'the owner''s personal claim sees none of the organization''s jobs');
select results_eq($$ select c.type, c.status from org cross join lateral keygate.claim_jobs(org.id, null, null, 10, 60) c $$,
  $$ values ('org-report', 'running') $$, 'a claim with the organization''s id hands out its job');
select is_empty($$ select 1 from public.jobs j
    cross join lateral keygate.cancel_job('e0000000-0000-4000-8000-000000000001', j.id)
   where j.type = 'org-report' $$,
  'the owner''s personal id cannot cancel the organization''s job');

-- The limits: the organization is one owner, whichever of its keys submits.
create temporary table org_keys on commit drop as
  select n.i, k.id from org cross join lateral (values (1), (2)) n (i)
   cross join lateral keygate.create_org_api_key('e0000000-0000-4000-8000-000000000001', org.id, 'worker ' || n.i,
     'kg_ojob' || n.i, sha256(convert_to('pgtap org job key ' || n.i, 'UTF8')), '{jobs:write}') k;
select is((select c.outcome from org cross join lateral keygate.create_job(org.id, (select id from org_keys where i = 1),
  'org-cap', '{}', p_max_unfinished => 2) c), 'created', 'the organization''s second unfinished job is created');
select is((select c.outcome from org cross join lateral keygate.create_job(org.id, (select id from org_keys where i = 2),
  'org-cap', '{}', p_max_unfinished => 2) c), 'job_limit_reached',
  'its third is refused, with another of its keys: the cap counts the organization as a whole');
select is((select outcome from keygate.create_job('e0000000-0000-4000-8000-000000000001', null, 'own-cap', '{}',
  p_max_unfinished => 2)), 'created', 'the organization''s jobs do not count against its owner''s personal cap');
select is((select c.outcome from org cross join lateral keygate.create_job(org.id, (select id from org_keys where i = 2),
  'org-rate', '{}', p_max_per_minute => 2) c), 'rate_limited',
  'two jobs of the organization this minute reach a rate of two a minute, for any of its keys');
select results_eq($$ select count(*)::int from public.jobs j, org where j.org_id = org.id $$, $$ values (2) $$,
  'refused submissions leave nothing behind');

select tests.authenticate_as('e0000000-0000-4000-8000-000000000001');
select is((select count(*) from public.jobs where type = 'org-report'), 1::bigint, 'a member reads the organization''s job');
select tests.authenticate_as('e0000000-0000-4000-8000-000000000002');
select is((select count(*) from public.jobs where type = 'org-report'), 0::bigint, 'a stranger does not');
select tests.clear_authentication();

select * from finish();
rollback;
