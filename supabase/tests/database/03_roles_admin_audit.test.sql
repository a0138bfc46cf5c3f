-- Roles, capabilities, the admin functions and the audit log: what no client
-- may touch, that the audit log only grows (within its retention), that the
-- last active admin cannot be removed, that roles bound keys at verification
-- time, and that deactivation ends every session. Rolled back at the end.
begin;
create extension if not exists pgtap;

select plan(52);

-- Tables: RLS on, no client privilege, the service role only reads the log.
select ok((select relrowsecurity from pg_class where oid = 'public.audit_events'::regclass), 'RLS is enabled on public.audit_events');
select ok((select relrowsecurity from pg_class where oid = 'public.user_capabilities'::regclass), 'RLS is enabled on public.user_capabilities');
select table_privs_are('public', 'audit_events', 'anon', array[]::text[]);
select table_privs_are('public', 'audit_events', 'authenticated', array[]::text[]);
select table_privs_are('public', 'audit_events', 'service_role', array['SELECT'], 'service_role may only read the audit log directly');
select table_privs_are('public', 'user_capabilities', 'anon', array[]::text[]);
select table_privs_are('public', 'user_capabilities', 'authenticated', array[]::text[]);
select policies_are('public', 'audit_events', array[]::name[], 'audit_events has no policy: no client reaches it');
select policies_are('public', 'user_capabilities', array[]::name[], 'user_capabilities has no policy: no client reaches it');
select ok(not has_function_privilege('authenticated', 'keygate.admin_update_user(uuid, uuid, text, text[], text, text)', 'execute'),
  'authenticated cannot change roles or capabilities');
select ok(not has_function_privilege('authenticated', 'keygate.append_audit_event(text, text, uuid, uuid, uuid, text, text, text, jsonb)', 'execute'),
  'authenticated cannot append audit events');
select ok(has_function_privilege('service_role', 'keygate.append_audit_event(text, text, uuid, uuid, uuid, text, text, text, jsonb)', 'execute'),
  'service_role appends audit events through keygate.append_audit_event');

insert into public.users (id, email, role) values
  ('a0000000-0000-4000-8000-0000000000a1', 'pgtap-admin@example.test', 'admin'),
  ('b0000000-0000-4000-8000-0000000000b1', 'pgtap-member@example.test', 'member');
insert into public.api_keys (user_id, name, start, key_hash, scopes) values
  ('b0000000-0000-4000-8000-0000000000b1', 'member key', 'kg_member0', sha256('pgtap member key'), '{jobs:read,jobs:write}');
insert into public.sessions (user_id, token_hash, expires_at) values
  ('b0000000-0000-4000-8000-0000000000b1', sha256('pgtap member session'), now() + interval '1 hour');
-- Any other admins of this database are set aside for the last-admin checks.
update public.users set role = 'member' where role = 'admin' and email not like 'pgtap-%';

-- Role ceilings.
select ok(keygate.role_allows_scope('viewer', 'jobs:read'), 'a viewer may use a read scope');
select ok(not keygate.role_allows_scope('viewer', 'jobs:write'), 'a viewer may not use a write scope');
select ok(keygate.role_allows_scope('member', 'jobs:write') and not keygate.role_allows_scope('member', 'keys:admin'),
  'a member may use write scopes, not admin scopes');
select ok(keygate.role_allows_scope('admin', 'keys:admin'), 'an admin may use every scope');
select is((select scopes from keygate.verify_api_key(sha256('pgtap member key'))), '{jobs:read,jobs:write}'::text[], 'a member''s key verifies with its scopes');
-- The hot path, lookup_api_key, returns the scopes as stored and the owner's
-- role (the functions apply the ceiling); verify_api_key applies
-- role_allows_scope to them, for every role, keeping their order.
insert into public.api_keys (user_id, name, start, key_hash, scopes) values
  ('b0000000-0000-4000-8000-0000000000b1', 'every level', 'kg_levels0', sha256('pgtap levels key'), '{a:read,b:write,c:work,d:admin,e}');
update public.users set role = 'viewer' where id = 'b0000000-0000-4000-8000-0000000000b1';
select is((select scopes from keygate.lookup_api_key(sha256('pgtap levels key'))), '{a:read,b:write,c:work,d:admin,e}'::text[],
  'lookup_api_key returns a viewer''s key''s scopes as stored, with no ceiling');
select is((select role from keygate.lookup_api_key(sha256('pgtap levels key'))), 'viewer', 'lookup_api_key returns the owner''s role');
select results_eq(
  $$ select key_id, user_id, expires_at, valid_until, last_used_at from keygate.verify_api_key(sha256('pgtap levels key')) $$,
  $$ select key_id, user_id, expires_at, valid_until, last_used_at from keygate.lookup_api_key(sha256('pgtap levels key')) $$,
  'verify_api_key returns lookup_api_key''s row');
select is((select scopes from keygate.verify_api_key(sha256('pgtap levels key'))),
  array(select s from unnest('{a:read,b:write,c:work,d:admin,e}'::text[]) with ordinality as t(s, n)
         where keygate.role_allows_scope('viewer', s) order by n),
  'verify_api_key applies role_allows_scope''s rule to a viewer''s key');
update public.users set role = 'member' where id = 'b0000000-0000-4000-8000-0000000000b1';
select is((select scopes from keygate.verify_api_key(sha256('pgtap levels key'))),
  array(select s from unnest('{a:read,b:write,c:work,d:admin,e}'::text[]) with ordinality as t(s, n)
         where keygate.role_allows_scope('member', s) order by n),
  'verify_api_key applies role_allows_scope''s rule to a member''s key');
update public.users set role = 'admin' where id = 'b0000000-0000-4000-8000-0000000000b1';
select is((select scopes from keygate.verify_api_key(sha256('pgtap levels key'))),
  array(select s from unnest('{a:read,b:write,c:work,d:admin,e}'::text[]) with ordinality as t(s, n)
         where keygate.role_allows_scope('admin', s) order by n),
  'verify_api_key applies role_allows_scope''s rule to a admin''s key');
update public.users set role = 'member' where id = 'b0000000-0000-4000-8000-0000000000b1';
select keygate.admin_update_user('a0000000-0000-4000-8000-0000000000a1', 'b0000000-0000-4000-8000-0000000000b1', 'viewer', null);
select is((select scopes from keygate.verify_api_key(sha256('pgtap member key'))), '{jobs:read}'::text[], 'demoted to viewer, the key loses its write scope');
select is((select (scopes, role)::text from keygate.lookup_api_key(sha256('pgtap member key'))), '("{jobs:read,jobs:write}",viewer)',
  'demoted to viewer, lookup_api_key still returns the stored scopes, with the new role');
select is((select scopes from public.api_keys where start = 'kg_member0'), '{jobs:read,jobs:write}'::text[], 'the stored key is not rewritten');
select is(keygate.scopes_above_role('b0000000-0000-4000-8000-0000000000b1', '{jobs:read,jobs:write}'), '{jobs:write}'::text[],
  'scopes_above_role names what a viewer may not be given');
select keygate.admin_update_user('a0000000-0000-4000-8000-0000000000a1', 'b0000000-0000-4000-8000-0000000000b1', 'member', null);
select is((select scopes from keygate.verify_api_key(sha256('pgtap member key'))), '{jobs:read,jobs:write}'::text[], 'raised again, the key has its scopes back');

-- Capabilities.
select is(keygate.effective_capabilities('a0000000-0000-4000-8000-0000000000a1'), keygate.all_capabilities(), 'the admin role implies every capability');
select is(keygate.effective_capabilities('b0000000-0000-4000-8000-0000000000b1'), '{}'::text[], 'a member holds no capability by default');
select keygate.admin_update_user('a0000000-0000-4000-8000-0000000000a1', 'b0000000-0000-4000-8000-0000000000b1', null, '{audit.read,users.read}');
select is(keygate.effective_capabilities('b0000000-0000-4000-8000-0000000000b1'), '{users.read,audit.read}'::text[], 'granted capabilities are held');
select throws_ok($$ select keygate.admin_update_user(null, 'b0000000-0000-4000-8000-0000000000b1', null, '{platform.use_break_glass}') $$,
  '22023', null, 'an unknown capability is refused');
select throws_ok($$ select keygate.admin_update_user(null, 'b0000000-0000-4000-8000-0000000000b1', 'owner', null) $$,
  '22023', null, 'an unknown role is refused');

-- The last active admin.
select throws_ok($$ select keygate.admin_update_user('a0000000-0000-4000-8000-0000000000a1', 'a0000000-0000-4000-8000-0000000000a1', 'member', null) $$,
  'KG008', null, 'the last active admin cannot be demoted');
select throws_ok($$ select keygate.admin_set_user_active('a0000000-0000-4000-8000-0000000000a1', 'a0000000-0000-4000-8000-0000000000a1', false) $$,
  'KG008', null, 'the last active admin cannot be deactivated');
select keygate.admin_update_user('a0000000-0000-4000-8000-0000000000a1', 'b0000000-0000-4000-8000-0000000000b1', 'admin', null);
select lives_ok($$ select keygate.admin_update_user('b0000000-0000-4000-8000-0000000000b1', 'a0000000-0000-4000-8000-0000000000a1', 'member', null) $$,
  'with a second admin, the first may be demoted');
select throws_ok($$ select keygate.admin_set_user_active('b0000000-0000-4000-8000-0000000000b1', 'b0000000-0000-4000-8000-0000000000b1', false) $$,
  'KG008', null, 'and then the other one is the last');
select keygate.admin_update_user('b0000000-0000-4000-8000-0000000000b1', 'a0000000-0000-4000-8000-0000000000a1', 'admin', null);
select keygate.admin_update_user('a0000000-0000-4000-8000-0000000000a1', 'b0000000-0000-4000-8000-0000000000b1', 'member', null);

-- Deactivation ends sessions, and reactivation brings none back.
select is((select count(*)::integer from keygate.get_session(sha256('pgtap member session'), 3600, 86400)), 1, 'the session works');
select keygate.admin_set_user_active('a0000000-0000-4000-8000-0000000000a1', 'b0000000-0000-4000-8000-0000000000b1', false);
select is((select count(*)::integer from public.sessions where user_id = 'b0000000-0000-4000-8000-0000000000b1'), 0, 'deactivation deletes every session');
select is((select count(*)::integer from keygate.verify_api_key(sha256('pgtap member key'))), 0, 'an inactive owner''s key does not verify');
select is((select count(*)::integer from keygate.lookup_api_key(sha256('pgtap member key'))), 0, 'lookup_api_key finds nothing for an inactive owner''s key');
select keygate.admin_set_user_active('a0000000-0000-4000-8000-0000000000a1', 'b0000000-0000-4000-8000-0000000000b1', true);
select is((select count(*)::integer from keygate.get_session(sha256('pgtap member session'), 3600, 86400)), 0, 'reactivation brings no session back');
select is((select count(*)::integer from keygate.verify_api_key(sha256('pgtap member key'))), 1, 'reactivation brings the unrevoked key back');
select is((select count(*)::integer from keygate.lookup_api_key(sha256('pgtap member key'))), 1, 'and lookup_api_key finds it again');
insert into public.api_keys (user_id, name, start, key_hash, scopes, revoked_at) values
  ('b0000000-0000-4000-8000-0000000000b1', 'revoked', 'kg_revoke0', sha256('pgtap revoked key'), '{jobs:read}', now() - interval '1 second'),
  ('b0000000-0000-4000-8000-0000000000b1', 'in grace', 'kg_graced0', sha256('pgtap graced key'), '{jobs:read}', now() + interval '1 hour');
select is((select count(*)::integer from keygate.lookup_api_key(sha256('pgtap revoked key'))), 0, 'lookup_api_key finds nothing for a revoked key');
select is((select count(*)::integer from keygate.lookup_api_key(sha256('pgtap graced key'))), 1,
  'lookup_api_key finds a key revoked in the future (a rotated key in its grace period)');

-- The audit log.
select results_eq(
  $$ select action from public.audit_events where target_user_id = 'b0000000-0000-4000-8000-0000000000b1' order by id $$,
  $$ values ('user.role_changed'), ('user.role_changed'), ('user.capabilities_changed'), ('user.role_changed'), ('user.role_changed'),
            ('user.deactivated'), ('user.reactivated') $$,
  'every role, capability and active-flag change is recorded');
select throws_ok($$ update public.audit_events set outcome = 'failure' $$, '42501', null, 'no one may update the audit log, not even its owner');
select throws_ok($$ delete from public.audit_events $$, '42501', null, 'no one may delete recent events');
select throws_ok($$ truncate public.audit_events $$, '42501', null, 'no one may truncate the audit log');
insert into public.audit_events (occurred_at, action, outcome) values (now() - interval '400 days', 'pgtap.expired', 'success');
select keygate.append_audit_event('pgtap.fresh', 'success');
select is((select count(*)::integer from public.audit_events where action = 'pgtap.expired'), 0, 'an append purges events past the retention period');

set local role service_role;
select throws_ok($$ insert into public.audit_events (action, outcome) values ('forged', 'success') $$, '42501', null,
  'service_role cannot insert into the audit log directly');
reset role;

select * from finish();
rollback;
