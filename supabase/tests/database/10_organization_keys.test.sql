-- Organization keys: exactly one owner per key, who may make, list, revoke
-- and rotate them (the role rules of the organization, under its lock), what
-- a client reads through RLS (a member the organization's keys, never a
-- hash; a stranger nothing), and verification naming the organization and
-- refusing a deactivated one's keys. Rolled back at the end.
begin;
\ir helpers.psql

select plan(22);

select tests.create_user('pgtap-okey-owner@example.test', 'member', 'd0000000-0000-4000-8000-000000000001');
select tests.create_user('pgtap-okey-member@example.test', 'member', 'd0000000-0000-4000-8000-000000000002');
select tests.create_user('pgtap-okey-other@example.test', 'member', 'd0000000-0000-4000-8000-000000000003');
select tests.create_user('pgtap-okey-viewer@example.test', 'viewer', 'd0000000-0000-4000-8000-000000000004');

create temporary table org on commit drop as
  select id from keygate.create_organization('d0000000-0000-4000-8000-000000000001', 'Keys', 'pgtap-keys');
grant select on org to authenticated;

-- The key events of an organization.
create function tests.org_key_events(p_org uuid) returns bigint
language sql stable security definer set search_path = ''
as $$ select count(*) from public.audit_events where org_id = p_org and action like 'key.%' $$;
insert into public.organization_members (org_id, user_id, role)
  select id, 'd0000000-0000-4000-8000-000000000002'::uuid, 'member' from org
  union all select id, 'd0000000-0000-4000-8000-000000000004'::uuid, 'member' from org;

-- One owner, exactly.
select throws_ok($$ insert into public.api_keys (name, start, key_hash) values ('none', 'kg_none', sha256('none')) $$,
  '23514', null, 'a key with no owner is refused');
select throws_ok($$ insert into public.api_keys (user_id, org_id, name, start, key_hash)
  select 'd0000000-0000-4000-8000-000000000001', id, 'both', 'kg_both', sha256('both') from org $$,
  '23514', null, 'a key with two owners is refused');
select throws_ok($$ insert into public.api_keys (user_id, created_by, name, start, key_hash)
  values ('d0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002', 'p', 'kg_pers', sha256('p')) $$,
  '23514', null, 'a personal key has no separate maker');

-- Making keys.
select lives_ok($$ select keygate.create_org_api_key('d0000000-0000-4000-8000-000000000002', (select id from org),
  'by member', 'kg_member', sha256('member-key'), '{jobs:read,jobs:write}') $$, 'a member makes an organization key');
select lives_ok($$ select keygate.create_org_api_key('d0000000-0000-4000-8000-000000000001', (select id from org),
  'by owner', 'kg_owner', sha256('owner-key'), '{jobs:read}') $$, 'the owner makes one');
select throws_ok($$ select keygate.create_org_api_key('d0000000-0000-4000-8000-000000000003', (select id from org),
  'stranger', 'kg_stranger', sha256('stranger-key'), '{}') $$, 'KG004', null, 'a stranger makes none');
select is((select created_by from public.api_keys where key_hash = sha256('member-key')),
  'd0000000-0000-4000-8000-000000000002'::uuid, 'the maker is recorded');
select is((select user_id from public.api_keys where key_hash = sha256('member-key')), null, 'and does not own it');
select is(keygate.key_scopes_above_role('d0000000-0000-4000-8000-000000000004', '{jobs:write,jobs:read}'),
  '{jobs:write}'::text[], 'a platform viewer may not put a write scope on an organization key');
select is(tests.org_key_events((select id from org)), 2::bigint, 'each creation is audited with the organization');

-- Verification names the organization.
select results_eq(
  $$ select user_id, org_id, created_by, role from keygate.lookup_api_key(sha256('member-key')) $$,
  $$ select null::uuid, id, 'd0000000-0000-4000-8000-000000000002'::uuid, 'member'::text from org $$,
  'lookup_api_key returns the organization as owner and the maker');
select is((select count(*) from keygate.verify_api_key(sha256('member-key'))), 0::bigint,
  'the older verify_api_key (personal keys only) does not answer for it');

-- Who revokes and rotates.
select throws_ok($$ select keygate.revoke_org_api_key('d0000000-0000-4000-8000-000000000002',
  (select id from public.api_keys where key_hash = sha256('owner-key'))) $$, 'KG014', null,
  'a member cannot revoke a key they did not make');
select throws_ok($$ select keygate.revoke_org_api_key('d0000000-0000-4000-8000-000000000003',
  (select id from public.api_keys where key_hash = sha256('owner-key'))) $$, 'KG004', null,
  'a stranger learns nothing');
select lives_ok($$ select keygate.rotate_org_api_key('d0000000-0000-4000-8000-000000000002',
  (select id from public.api_keys where key_hash = sha256('member-key')), 0, 'kg_rotated', sha256('rotated-key')) $$,
  'a member rotates a key they made');
select is((select created_by from public.api_keys where key_hash = sha256('rotated-key')),
  'd0000000-0000-4000-8000-000000000002'::uuid, 'the rotated key records who rotated it');

-- What clients read.
select tests.authenticate_as('d0000000-0000-4000-8000-000000000002');
select is((select count(*) from public.api_keys where org_id = (select id from org)), 3::bigint,
  'a member reads the organization''s keys');
select throws_ok($$ select key_hash from public.api_keys $$, '42501', null, 'but never a hash');
select tests.authenticate_as('d0000000-0000-4000-8000-000000000003');
select is((select count(*) from public.api_keys where org_id is not null), 0::bigint, 'a stranger reads none');
select throws_ok($$ select keygate.create_org_api_key('d0000000-0000-4000-8000-000000000003', (select id from org),
  'x', 'kg_x', sha256('x'), '{}') $$, '42501', null, 'clients execute no write function');
select tests.clear_authentication();

-- A deactivated organization's keys stop verifying, and it makes no more.
update public.organizations set deactivated_at = now() where id = (select id from org);
select is((select count(*) from keygate.lookup_api_key(sha256('owner-key'))), 0::bigint,
  'a deactivated organization''s key is not live');
select throws_ok($$ select keygate.create_org_api_key('d0000000-0000-4000-8000-000000000001', (select id from org),
  'late', 'kg_late', sha256('late'), '{}') $$, 'KG013', null, 'and it makes no new key');

select * from finish();
rollback;
