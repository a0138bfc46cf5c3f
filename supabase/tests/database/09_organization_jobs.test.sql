-- Organization jobs: exactly one owner per job, a job submitted for an
-- organization is its own, claims see only the claimant's owner's queue, and
-- members (not strangers) read the organization's jobs through RLS. Rolled
-- back at the end.
begin;
\ir helpers.psql

select plan(7);

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

select tests.authenticate_as('e0000000-0000-4000-8000-000000000001');
select is((select count(*) from public.jobs where type = 'org-report'), 1::bigint, 'a member reads the organization''s job');
select tests.authenticate_as('e0000000-0000-4000-8000-000000000002');
select is((select count(*) from public.jobs where type = 'org-report'), 0::bigint, 'a stranger does not');
select tests.clear_authentication();

select * from finish();
rollback;
