-- Keygate's Row Level Security in action: what anon, a signed-in user, another
-- signed-in user and service_role can do, simulated the way Supabase's Data
-- API does it (`set local role` plus `request.jwt.claims`). Everything runs in
-- one transaction that is rolled back.
begin;
\ir helpers.psql

select plan(33);

-- Two users with one row of everything each (as the migration owner).
select tests.create_user('pgtap-owner@example.test', 'viewer', 'a0000000-0000-4000-8000-00000000000a');
select tests.create_user('pgtap-other@example.test', 'viewer', 'b0000000-0000-4000-8000-00000000000b');
insert into public.user_identities (provider, subject, user_id) values
  ('github', 'pgtap-owner', 'a0000000-0000-4000-8000-00000000000a'),
  ('github', 'pgtap-other', 'b0000000-0000-4000-8000-00000000000b');
insert into public.api_keys (user_id, name, start, key_hash) values
  ('a0000000-0000-4000-8000-00000000000a', 'owner key', 'kg_owner00', sha256('pgtap owner key')),
  ('b0000000-0000-4000-8000-00000000000b', 'other key', 'kg_other00', sha256('pgtap other key'));
insert into public.jobs (user_id, type) values
  ('a0000000-0000-4000-8000-00000000000a', 'pgtap'),
  ('b0000000-0000-4000-8000-00000000000b', 'pgtap');
insert into public.sessions (user_id, token_hash, expires_at) values
  ('a0000000-0000-4000-8000-00000000000a', sha256('pgtap owner session'), now() + interval '1 hour');

-- Signed in as the owner.
select tests.authenticate_as('a0000000-0000-4000-8000-00000000000a');

select is(keygate.current_user_id(), 'a0000000-0000-4000-8000-00000000000a'::uuid, 'current_user_id() is the signed-in user');
select results_eq($$ select id from public.users where email like 'pgtap-%' $$,
  $$ values ('a0000000-0000-4000-8000-00000000000a'::uuid) $$, 'a user reads only their own profile');
select results_eq($$ select user_id from public.user_identities where subject like 'pgtap-%' $$,
  $$ values ('a0000000-0000-4000-8000-00000000000a'::uuid) $$, 'a user reads only their own identities');
select results_eq($$ select name from public.api_keys where start like 'kg_%00' $$,
  $$ values ('owner key') $$, 'a user lists only their own keys');
select results_eq($$ select user_id from public.jobs where type = 'pgtap' $$,
  $$ values ('a0000000-0000-4000-8000-00000000000a'::uuid) $$, 'a user reads only their own jobs');
select throws_ok($$ select key_hash from public.api_keys $$, '42501', null, 'a user cannot read a key hash, not even their own');
select throws_ok($$ select * from public.api_keys $$, '42501', null, 'select * on api_keys is refused (it includes key_hash)');
select throws_ok($$ select * from public.sessions $$, '42501', null, 'a user cannot read sessions');
select throws_ok($$ insert into public.users (email) values ('pgtap-new@example.test') $$, '42501', null, 'a user cannot insert users');
select throws_ok($$ update public.users set role = 'admin' where id = 'a0000000-0000-4000-8000-00000000000a' $$, '42501', null,
  'a user cannot update their own profile (no promoting oneself)');
select throws_ok($$ delete from public.users where id = 'a0000000-0000-4000-8000-00000000000a' $$, '42501', null, 'a user cannot delete users');
select throws_ok($$ insert into public.user_identities (provider, subject, user_id) values ('github', 'pgtap-forged', 'a0000000-0000-4000-8000-00000000000a') $$,
  '42501', null, 'a user cannot link identities');
select throws_ok($$ insert into public.api_keys (user_id, name, start, key_hash) values ('a0000000-0000-4000-8000-00000000000a', 'x', 'kg_forged0', sha256('x')) $$,
  '42501', null, 'a user cannot insert keys directly');
select throws_ok($$ update public.api_keys set revoked_at = null $$, '42501', null, 'a user cannot un-revoke keys');
select throws_ok($$ insert into public.jobs (user_id, type) values ('a0000000-0000-4000-8000-00000000000a', 'forged') $$, '42501', null, 'a user cannot insert jobs');
select throws_ok($$ select keygate.set_user_active('a0000000-0000-4000-8000-00000000000a', true) $$, '42501', null, 'a user cannot call write functions');
select throws_ok($$ select * from keygate.lookup_api_key(sha256('pgtap owner key')) $$, '42501', null,
  'a user cannot look a key up by hash, not even their own');

-- Signed in as the other user.
select tests.authenticate_as('b0000000-0000-4000-8000-00000000000b');
select is_empty($$ select 1 from public.users where id = 'a0000000-0000-4000-8000-00000000000a' $$, 'another user cannot see the owner''s profile');
select is_empty($$ select 1 from public.api_keys where user_id = 'a0000000-0000-4000-8000-00000000000a' $$, 'another user cannot see the owner''s keys');
select is_empty($$ select 1 from public.jobs where user_id = 'a0000000-0000-4000-8000-00000000000a' $$, 'another user cannot see the owner''s jobs');
select is_empty($$ select 1 from public.user_identities where user_id = 'a0000000-0000-4000-8000-00000000000a' $$, 'another user cannot see the owner''s identities');

-- Anonymous.
select tests.authenticate_as_anon();
select throws_ok($$ select id from public.users $$, '42501', null, 'anon cannot read users');
select throws_ok($$ select id from public.api_keys $$, '42501', null, 'anon cannot read keys');
select throws_ok($$ select id from public.jobs $$, '42501', null, 'anon cannot read jobs');
select throws_ok($$ insert into public.users (email) values ('pgtap-anon@example.test') $$, '42501', null, 'anon cannot insert users');
select throws_ok($$ select * from keygate.verify_api_key(sha256('pgtap owner key')) $$, '42501', null, 'anon cannot call keygate functions');
select throws_ok($$ select * from keygate.lookup_api_key(sha256('pgtap owner key')) $$, '42501', null, 'anon cannot look a key up by hash');

-- The service role (what the edge functions use).
select tests.authenticate_as_service_role();
select results_eq($$ select count(*)::int from public.users where email like 'pgtap-%' $$, array[2], 'service_role reads every user');
select lives_ok($$ update public.users set name = 'Renamed' where id = 'a0000000-0000-4000-8000-00000000000a' $$, 'service_role updates users');
select lives_ok($$ insert into public.users (email) values ('pgtap-service@example.test') $$, 'service_role inserts users');
select isnt_empty($$ select key_hash from public.api_keys where user_id = 'a0000000-0000-4000-8000-00000000000a' $$, 'service_role reads key hashes');
select results_eq($$ select user_id from keygate.verify_api_key(sha256('pgtap owner key')) $$,
  $$ values ('a0000000-0000-4000-8000-00000000000a'::uuid) $$, 'service_role verifies a key by hash');
select results_eq($$ select user_id, role from keygate.lookup_api_key(sha256('pgtap owner key')) $$,
  $$ values ('a0000000-0000-4000-8000-00000000000a'::uuid, 'viewer') $$, 'service_role looks a key up by hash, with its owner''s role');

select tests.clear_authentication();
select * from finish();
rollback;
