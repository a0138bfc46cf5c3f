-- The admin functions decide for themselves: each checks the actor's
-- effective capabilities against what the change needs for the target as it
-- is now (KG009, naming what is missing, before anything changes), whatever
-- the caller checked before. And a user's own activity never returns another
-- actor's identity, address or user agent. Rolled back at the end.
begin;
create extension if not exists pgtap;

select plan(36);

-- The error detail of a statement (null when it succeeds).
create function pg_temp.error_detail(p_sql text) returns text
language plpgsql as $$
declare
  v_detail text;
begin
  execute p_sql;
  return null;
exception when others then
  get stacked diagnostics v_detail = pg_exception_detail;
  return v_detail;
end;
$$;

insert into public.users (id, email, role, is_active) values
  ('a1000000-0000-4000-8000-000000000001', 'pgtap6-admin@example.test', 'admin', true),
  ('a1000000-0000-4000-8000-000000000002', 'pgtap6-manager@example.test', 'member', true),
  ('a1000000-0000-4000-8000-000000000003', 'pgtap6-target@example.test', 'member', true),
  ('a1000000-0000-4000-8000-000000000004', 'pgtap6-other-admin@example.test', 'admin', true),
  ('a1000000-0000-4000-8000-000000000005', 'pgtap6-revoker@example.test', 'member', true),
  ('a1000000-0000-4000-8000-000000000006', 'pgtap6-inactive@example.test', 'member', false);
insert into public.user_capabilities (user_id, capability) values
  ('a1000000-0000-4000-8000-000000000002', 'users.manage'),
  ('a1000000-0000-4000-8000-000000000005', 'keys.revoke_any'),
  ('a1000000-0000-4000-8000-000000000006', 'users.manage'),
  ('a1000000-0000-4000-8000-000000000006', 'keys.revoke_any');
insert into public.api_keys (id, user_id, name, start, key_hash, scopes) values
  ('a1000000-0000-4000-8000-0000000000c1', 'a1000000-0000-4000-8000-000000000003', 'target key', 'kg_pgtap61',
   sha256('pgtap6 target key'), '{jobs:read}');

-- Privileges: service_role only.
select ok(not has_function_privilege('authenticated', 'keygate.list_own_audit_events(uuid, bigint, integer, text, text)', 'execute')
  and not has_function_privilege('anon', 'keygate.list_own_audit_events(uuid, bigint, integer, text, text)', 'execute'),
  'no client can read anyone''s own activity');
select ok(has_function_privilege('service_role', 'keygate.list_own_audit_events(uuid, bigint, integer, text, text)', 'execute'),
  'service_role reads a user''s own activity');
select ok(not has_function_privilege('authenticated', 'keygate.apply_user_change(uuid, uuid, text, text[], text, text)', 'execute'),
  'authenticated cannot make an unchecked change');
select ok(not has_function_privilege('authenticated', 'keygate.lock_admin_rows(uuid, uuid)', 'execute')
  and not has_function_privilege('authenticated', 'keygate.assert_capabilities(uuid, text[])', 'execute'),
  'authenticated cannot call the admin checks');

-- The rule.
select is(keygate.admin_required_capabilities('set_active', 'member'), '{users.manage}'::text[], 'acting on a member''s active flag needs users.manage');
select is(keygate.admin_required_capabilities('set_active', 'admin'), '{users.manage,capabilities.grant}'::text[],
  'acting on an admin''s active flag needs capabilities.grant too');
select is(keygate.admin_required_capabilities('update_user', 'member', 'admin', null), '{users.manage,capabilities.grant}'::text[],
  'making an admin needs capabilities.grant too');
select is(keygate.admin_required_capabilities('update_user', 'member', 'member', null), '{}'::text[], 'an unchanged role needs nothing');
select is(keygate.admin_required_capabilities('update_user', 'member', null, '{}'), '{capabilities.grant}'::text[],
  'any capability list needs capabilities.grant');
select is(keygate.admin_required_capabilities('update_user', null, 'viewer', null), '{users.manage}'::text[],
  'for no such user: what any target needs');
select throws_ok($$ select keygate.admin_required_capabilities('drop_everything') $$, '22023', null, 'an unknown action is refused');

-- Who may do what, decided inside the function.
select lives_ok($$ select keygate.admin_set_user_active('a1000000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-000000000003', false) $$,
  'users.manage deactivates a member');
select lives_ok($$ select keygate.admin_set_user_active('a1000000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-000000000003', true) $$,
  'and reactivates them');
select throws_ok($$ select keygate.admin_set_user_active('a1000000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-000000000004', false) $$,
  'KG009', 'this needs the capability capabilities.grant', 'users.manage alone cannot deactivate an admin');
select is((select is_active from public.users where id = 'a1000000-0000-4000-8000-000000000004'), true, 'the admin is still active');
select throws_ok($$ select keygate.admin_update_user('a1000000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-000000000003', 'admin', null) $$,
  'KG009', 'this needs the capability capabilities.grant', 'users.manage alone cannot make an admin');
select throws_ok($$ select keygate.admin_update_user('a1000000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-000000000004', 'member', null) $$,
  'KG009', null, 'users.manage alone cannot demote an admin');
select throws_ok($$ select keygate.admin_update_user('a1000000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-000000000003', null, '{audit.read}') $$,
  'KG009', null, 'users.manage alone cannot grant capabilities');
select is(pg_temp.error_detail($$ select keygate.admin_update_user('a1000000-0000-4000-8000-000000000005', 'a1000000-0000-4000-8000-000000000003', 'admin', '{}') $$),
  'users.manage,capabilities.grant', 'the refusal''s detail names every missing capability, in order');
select is((select role from public.users where id = 'a1000000-0000-4000-8000-000000000003'), 'member', 'the refused changes changed nothing');
select lives_ok($$ select keygate.admin_update_user('a1000000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-000000000003', 'viewer', null) $$,
  'users.manage changes a member''s role');
select throws_ok($$ select keygate.admin_set_user_active('a1000000-0000-4000-8000-000000000006', 'a1000000-0000-4000-8000-000000000003', false) $$,
  'KG009', null, 'an inactive actor holds no capability');
select throws_ok($$ select keygate.admin_update_user(null, 'a1000000-0000-4000-8000-000000000003', 'member', null) $$,
  'KG009', null, 'a change with no actor is refused');
select throws_ok($$ select keygate.admin_set_user_active(null, 'a1000000-0000-4000-8000-000000000003', false) $$,
  'KG009', null, 'a deactivation with no actor is refused');
select throws_ok($$ select keygate.admin_set_user_active('a1000000-0000-4000-8000-000000000005', 'a1000000-0000-4000-8000-00000000ffff', false) $$,
  'KG009', null, 'without what any target needs, an unknown user is a refusal, not a 404');
select throws_ok($$ select keygate.admin_set_user_active('a1000000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-00000000ffff', false) $$,
  'KG004', null, 'with it, an unknown user is KG004');

-- Key revocation by keys.revoke_any.
select throws_ok($$ select * from keygate.admin_revoke_key('a1000000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-0000000000c1') $$,
  'KG009', 'this needs the capability keys.revoke_any', 'users.manage cannot revoke another user''s key');
select throws_ok($$ select * from keygate.admin_revoke_key('a1000000-0000-4000-8000-000000000006', 'a1000000-0000-4000-8000-0000000000c1') $$,
  'KG009', null, 'an inactive holder of keys.revoke_any cannot either');
select throws_ok($$ select * from keygate.admin_revoke_key(null, 'a1000000-0000-4000-8000-0000000000c1') $$,
  'KG009', null, 'nor can no actor');
select is((select revoked_at from public.api_keys where id = 'a1000000-0000-4000-8000-0000000000c1'), null, 'the key is still live');

-- A capability taken away cannot be used afterwards.
select keygate.admin_update_user('a1000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000005', null, '{}');
select throws_ok($$ select * from keygate.admin_revoke_key('a1000000-0000-4000-8000-000000000005', 'a1000000-0000-4000-8000-0000000000c1') $$,
  'KG009', null, 'once keys.revoke_any is removed, its former holder cannot revoke');

-- The first-admin command has no actor by design, and still works.
select is((keygate.admin_update_user_by_email('pgtap6-target@example.test', 'member', null)).role, 'member',
  'the first-admin command changes a role with no actor');

-- A user's own activity: an administrator's change without who, where or what with.
select keygate.admin_set_user_active('a1000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000003', false,
  '203.0.113.66', 'pgtap6-admin-agent');
select keygate.append_audit_event('key.created', 'success', 'a1000000-0000-4000-8000-000000000003',
  'a1000000-0000-4000-8000-000000000003', null, null, '192.0.2.66', 'pgtap6-own-agent');
select is(
  (select (actor_type, actor_id, actor_email, client_address, user_agent)::text
     from keygate.list_own_audit_events('a1000000-0000-4000-8000-000000000003', null, 1, 'user.deactivated')),
  '(administrator,,,,)',
  'the own view says an administrator deactivated the user, and nothing of who, where or with what');
select is(
  (select (actor_type, actor_id, actor_email, client_address, user_agent)::text
     from keygate.list_own_audit_events('a1000000-0000-4000-8000-000000000003', null, 1, 'key.created')),
  '(user,a1000000-0000-4000-8000-000000000003,pgtap6-target@example.test,192.0.2.66,pgtap6-own-agent)',
  'the user''s own action keeps their address and agent');
select is_empty(
  $$ select 1 from keygate.list_own_audit_events('a1000000-0000-4000-8000-000000000003')
      where actor_type <> 'user' and (actor_id is not null or actor_email is not null or client_address is not null or user_agent is not null) $$,
  'no event by anyone else carries an identity, address or agent in the own view');
select is(
  (select (actor_id, actor_email, client_address, user_agent)::text
     from keygate.list_audit_events(null, 1, null, null, 'a1000000-0000-4000-8000-000000000003', 'user.deactivated')),
  '(a1000000-0000-4000-8000-000000000001,pgtap6-admin@example.test,203.0.113.66,pgtap6-admin-agent)',
  'the admin view keeps who, where and what with');

select * from finish();
rollback;
