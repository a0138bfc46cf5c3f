-- Organizations: the slug's shape, who reads which rows (a member sees their
-- organizations and their members, never another's; owners and admins see
-- invitations but never a token hash; clients write nothing and execute no
-- write function), the role rules, the last-owner guard, the invitation
-- rules, and one audit event per change with its organization. Everything
-- runs in one transaction that is rolled back.
begin;
\ir helpers.psql

select plan(82);

-- An organization's id by slug, whoever asks.
create function tests.org(p_slug text) returns uuid
language sql stable security definer set search_path = ''
as $$ select id from public.organizations where slug = p_slug $$;
grant execute on function tests.org(text) to anon, authenticated, service_role;

-- The events of an organization with this action.
create function tests.org_events(p_slug text, p_action text) returns bigint
language sql stable security definer set search_path = ''
as $$ select count(*) from public.audit_events where org_id = tests.org(p_slug) and action = p_action $$;

select tests.create_user('pgtap-org-owner@example.test', 'member', 'c0000000-0000-4000-8000-000000000001');
select tests.create_user('pgtap-org-admin@example.test', 'member', 'c0000000-0000-4000-8000-000000000002');
select tests.create_user('pgtap-org-member@example.test', 'member', 'c0000000-0000-4000-8000-000000000003');
select tests.create_user('pgtap-org-other@example.test', 'member', 'c0000000-0000-4000-8000-000000000004');
select tests.create_user('Pgtap-Org-Invitee@Example.test', 'member', 'c0000000-0000-4000-8000-000000000005');
select tests.create_user('pgtap-org-inactive@example.test', 'member', 'c0000000-0000-4000-8000-000000000006');
select tests.create_user('pgtap-org-extra@example.test', 'member', 'c0000000-0000-4000-8000-000000000007');
update public.users set is_active = false where id = 'c0000000-0000-4000-8000-000000000006';

-- Creation: the creator is the owner; the slug's shape; a taken slug; an inactive user.
select results_eq(
  $$ select slug, name, role from keygate.create_organization('c0000000-0000-4000-8000-000000000001', 'Alpha', 'pgtap-alpha', '127.0.0.1', 'pgtap') $$,
  $$ values ('pgtap-alpha', 'Alpha', 'owner') $$, 'create_organization makes the creator its owner');
select lives_ok($$ select keygate.create_organization('c0000000-0000-4000-8000-000000000004', 'Beta', 'pgtap-beta') $$,
  'another user creates another organization');
select throws_ok($$ select keygate.create_organization('c0000000-0000-4000-8000-000000000004', 'Again', 'pgtap-alpha') $$,
  '23505', null, 'a taken slug is a unique violation');
select throws_ok($$ select keygate.create_organization('c0000000-0000-4000-8000-000000000006', 'Off', 'pgtap-off') $$,
  'KG001', null, 'an inactive user cannot create an organization');
select throws_ok($$ insert into public.organizations (slug, name) values ('Pgtap_Upper', 'x') $$,
  '23514', null, 'a slug with capitals or underscores is refused');
select throws_ok($$ insert into public.organizations (slug, name) values ('-pgtap', 'x') $$,
  '23514', null, 'a slug starting with a hyphen is refused');
select throws_ok($$ insert into public.organizations (slug, name) values (repeat('a', 41), 'x') $$,
  '23514', null, 'a slug over 40 characters is refused');
select lives_ok($$ insert into public.organizations (slug, name) values ('a', 'One letter'), ('pgtap-a-1', 'Hyphens') $$,
  'one character, and hyphens inside, are slugs');

insert into public.organization_members (org_id, user_id, role) values
  (tests.org('pgtap-alpha'), 'c0000000-0000-4000-8000-000000000002', 'admin'),
  (tests.org('pgtap-alpha'), 'c0000000-0000-4000-8000-000000000003', 'member'),
  (tests.org('pgtap-alpha'), 'c0000000-0000-4000-8000-000000000007', 'member');
select keygate.create_invitation('c0000000-0000-4000-8000-000000000001', tests.org('pgtap-alpha'),
  'someone@example.test', 'member', sha256('pgtap alpha token'), 3600);
select keygate.create_invitation('c0000000-0000-4000-8000-000000000004', tests.org('pgtap-beta'),
  'someone@example.test', 'member', sha256('pgtap beta token'), 3600);

-- RLS: a member of Alpha.
select tests.authenticate_as('c0000000-0000-4000-8000-000000000003');
select results_eq($$ select slug from public.organizations $$, $$ values ('pgtap-alpha') $$,
  'a member sees their organization and no other');
select results_eq($$ select count(*)::int, count(*) filter (where org_id = tests.org('pgtap-alpha'))::int from public.organization_members $$,
  $$ values (4, 4) $$, 'a member sees every member of their organization and no other organization''s');
select is((select count(*)::int from public.organization_invitations), 0, 'a member sees no invitation');
select throws_ok($$ insert into public.organizations (slug, name) values ('pgtap-forged', 'x') $$, '42501', null,
  'authenticated cannot insert an organization');
select throws_ok($$ update public.organizations set name = 'x' $$, '42501', null, 'authenticated cannot update an organization');
select throws_ok($$ delete from public.organizations $$, '42501', null, 'authenticated cannot delete an organization');
select throws_ok($$ insert into public.organization_members (org_id, user_id, role)
                    values (tests.org('pgtap-beta'), 'c0000000-0000-4000-8000-000000000003', 'owner') $$, '42501', null,
  'authenticated cannot add a member');
select throws_ok($$ update public.organization_members set role = 'owner' $$, '42501', null, 'authenticated cannot change a role');
select throws_ok($$ delete from public.organization_members $$, '42501', null, 'authenticated cannot remove a member');
select throws_ok($$ insert into public.organization_invitations (org_id, email, role, token_hash, expires_at)
                    values (tests.org('pgtap-alpha'), 'x@example.test', 'admin', sha256('forged'), now() + interval '1 day') $$,
  '42501', null, 'authenticated cannot insert an invitation');
select throws_ok($$ update public.organization_invitations set revoked_at = null $$, '42501', null,
  'authenticated cannot update an invitation');
select throws_ok($$ delete from public.organization_invitations $$, '42501', null, 'authenticated cannot delete an invitation');

-- RLS: an admin of Alpha reads Alpha's invitations, never their token hash.
select tests.authenticate_as('c0000000-0000-4000-8000-000000000002');
select results_eq($$ select org_id, email from public.organization_invitations $$,
  $$ values (tests.org('pgtap-alpha'), 'someone@example.test') $$, 'an admin sees their organization''s invitations only');
select throws_ok($$ select token_hash from public.organization_invitations $$, '42501', null,
  'no client reads an invitation''s token hash');

-- RLS: the owner of Beta, and someone who belongs nowhere.
select tests.authenticate_as('c0000000-0000-4000-8000-000000000004');
select results_eq($$ select slug from public.organizations $$, $$ values ('pgtap-beta') $$,
  'Beta''s owner sees Beta only');
select results_eq($$ select user_id from public.organization_members $$,
  $$ values ('c0000000-0000-4000-8000-000000000004'::uuid) $$, 'Beta''s owner sees Beta''s members only');
select tests.authenticate_as('c0000000-0000-4000-8000-000000000005');
select is((select count(*)::int from public.organizations) + (select count(*)::int from public.organization_members), 0,
  'a user in no organization sees nothing');

-- Anon sees nothing.
select tests.authenticate_as_anon();
select throws_ok($$ select 1 from public.organizations $$, '42501', null, 'anon cannot read organizations');
select throws_ok($$ select 1 from public.organization_members $$, '42501', null, 'anon cannot read members');
select throws_ok($$ select id from public.organization_invitations $$, '42501', null, 'anon cannot read invitations');

-- Functions: clients execute none but the policies' lookups.
select tests.authenticate_as('c0000000-0000-4000-8000-000000000001');
select throws_ok($$ select keygate.rename_organization('c0000000-0000-4000-8000-000000000001', tests.org('pgtap-alpha'), 'Mine') $$,
  '42501', null, 'authenticated cannot call a write function, even as its owner');
select tests.clear_authentication();
select is(
  array(select f from unnest(array[
    'keygate.create_organization(uuid, text, text, text, text)',
    'keygate.list_organizations(uuid)',
    'keygate.get_organization(uuid, uuid)',
    'keygate.rename_organization(uuid, uuid, text, text, text)',
    'keygate.deactivate_organization(uuid, uuid, text, text)',
    'keygate.list_members(uuid, uuid)',
    'keygate.change_member_role(uuid, uuid, uuid, text, text, text)',
    'keygate.remove_member(uuid, uuid, uuid, text, text)',
    'keygate.transfer_ownership(uuid, uuid, uuid, text, text)',
    'keygate.create_invitation(uuid, uuid, text, text, bytea, integer, text, text)',
    'keygate.list_invitations(uuid, uuid)',
    'keygate.revoke_invitation(uuid, uuid, uuid, text, text)',
    'keygate.accept_invitation(uuid, bytea, text, text)',
    'keygate.lock_organization(uuid, uuid)',
    'keygate.append_org_audit_event(text, text, uuid, uuid, uuid, uuid, text, text, text, jsonb)'
  ]) f, unnest(array['anon', 'authenticated']) r
   where has_function_privilege(r, f, 'execute') or not has_function_privilege('service_role', f, 'execute')),
  array[]::text[], 'the organization functions are the service role''s only');
select ok(has_function_privilege('authenticated', 'keygate.org_ids_for_current_user()', 'execute')
  and has_function_privilege('authenticated', 'keygate.org_ids_for_current_user(text[])', 'execute')
  and not has_function_privilege('anon', 'keygate.org_ids_for_current_user()', 'execute'),
  'the membership lookups the policies call are executable by authenticated, not anon');

-- Reading.
select results_eq($$ select slug, role from keygate.list_organizations('c0000000-0000-4000-8000-000000000003') $$,
  $$ values ('pgtap-alpha', 'member') $$, 'list_organizations lists a member''s organizations with their role');
select throws_ok($$ select * from keygate.get_organization('c0000000-0000-4000-8000-000000000004', tests.org('pgtap-alpha')) $$,
  'KG004', null, 'get_organization: a non-member learns nothing');
select throws_ok($$ select * from keygate.list_members('c0000000-0000-4000-8000-000000000004', tests.org('pgtap-alpha')) $$,
  'KG004', null, 'list_members: a non-member learns nothing');
select is((select count(*)::int from keygate.list_members('c0000000-0000-4000-8000-000000000003', tests.org('pgtap-alpha'))), 4,
  'any member lists the members');

-- Role rules.
select throws_ok($$ select keygate.rename_organization('c0000000-0000-4000-8000-000000000003', tests.org('pgtap-alpha'), 'Nope') $$,
  'KG014', null, 'a member cannot rename');
select lives_ok($$ select keygate.rename_organization('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'), 'Alpha Inc') $$,
  'an admin renames');
select throws_ok($$ select keygate.change_member_role('c0000000-0000-4000-8000-000000000003', tests.org('pgtap-alpha'),
                    'c0000000-0000-4000-8000-000000000007', 'admin') $$, 'KG014', null, 'a member cannot change roles');
select throws_ok($$ select keygate.change_member_role('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
                    'c0000000-0000-4000-8000-000000000001', 'admin') $$, 'KG014', null, 'an admin cannot touch an owner');
select throws_ok($$ select keygate.change_member_role('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
                    'c0000000-0000-4000-8000-000000000007', 'owner') $$, 'KG014', null, 'an admin cannot make an owner');
select throws_ok($$ select keygate.change_member_role('c0000000-0000-4000-8000-000000000004', tests.org('pgtap-alpha'),
                    'c0000000-0000-4000-8000-000000000007', 'admin') $$, 'KG004', null, 'a non-member learns nothing');
select throws_ok($$ select keygate.change_member_role('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
                    'c0000000-0000-4000-8000-000000000004', 'admin') $$, 'KG011', null, 'the target must be a member');
select is(keygate.change_member_role('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
  'c0000000-0000-4000-8000-000000000007', 'admin'), 'member', 'an admin makes a member an admin, and gets the old role');
select is(keygate.change_member_role('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
  'c0000000-0000-4000-8000-000000000007', 'admin'), 'admin', 'the same role again is no change');
select is(tests.org_events('pgtap-alpha', 'org.member_role_changed'), 1::bigint, 'one event for one change, none for no change');
select throws_ok($$ select keygate.remove_member('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
                    'c0000000-0000-4000-8000-000000000007') $$, 'KG014', null, 'an admin cannot remove an admin');
select throws_ok($$ select keygate.remove_member('c0000000-0000-4000-8000-000000000003', tests.org('pgtap-alpha'),
                    'c0000000-0000-4000-8000-000000000007') $$, 'KG014', null, 'a member cannot remove anyone');
select lives_ok($$ select keygate.change_member_role('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
                   'c0000000-0000-4000-8000-000000000007', 'member') $$, 'an admin makes an admin a member');
select lives_ok($$ select keygate.remove_member('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
                   'c0000000-0000-4000-8000-000000000007') $$, 'an admin removes a member');
select throws_ok($$ select keygate.remove_member('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
                    'c0000000-0000-4000-8000-000000000007') $$, 'KG011', null, 'removing a non-member');

-- Invitations.
select throws_ok($$ select keygate.create_invitation('c0000000-0000-4000-8000-000000000003', tests.org('pgtap-alpha'),
                    'x@example.test', 'member', sha256('pgtap m'), 3600) $$, 'KG014', null, 'a member cannot invite');
select throws_ok($$ select keygate.create_invitation('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
                    'x@example.test', 'member', sha256('pgtap t'), 59) $$, '22023', null, 'a lifetime under a minute is refused');
select throws_ok($$ select keygate.create_invitation('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
                    'x@example.test', 'owner', sha256('pgtap o'), 3600) $$, '22023', null, 'nobody is invited as owner');
select lives_ok($$ select keygate.create_invitation('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
                   'PGTAP-Org-Invitee@example.TEST', 'member', sha256('pgtap invitee'), 3600) $$, 'an admin invites');
select is((select email from public.organization_invitations where token_hash = sha256('pgtap invitee')),
  'pgtap-org-invitee@example.test', 'the address is stored lowercased');
select throws_ok($$ select * from keygate.list_invitations('c0000000-0000-4000-8000-000000000003', tests.org('pgtap-alpha')) $$,
  'KG014', null, 'a member cannot list invitations');
select throws_ok($$ select * from keygate.accept_invitation('c0000000-0000-4000-8000-000000000004', sha256('pgtap invitee')) $$,
  'KG012', null, 'an invitation for another address is not valid');
select throws_ok($$ select * from keygate.accept_invitation('c0000000-0000-4000-8000-000000000006', sha256('pgtap invitee')) $$,
  'KG001', null, 'an inactive user cannot accept');
select throws_ok($$ select * from keygate.accept_invitation('c0000000-0000-4000-8000-000000000005', sha256('pgtap unknown')) $$,
  'KG012', null, 'an unknown token is not valid');
select results_eq($$ select org_id, role from keygate.accept_invitation('c0000000-0000-4000-8000-000000000005', sha256('pgtap invitee')) $$,
  $$ values (tests.org('pgtap-alpha'), 'member') $$, 'the invitee accepts (their address compared lowercased)');
select throws_ok($$ select * from keygate.accept_invitation('c0000000-0000-4000-8000-000000000005', sha256('pgtap invitee')) $$,
  'KG012', null, 'an invitation is used once');
select keygate.create_invitation('c0000000-0000-4000-8000-000000000001', tests.org('pgtap-alpha'),
  'pgtap-org-other@example.test', 'member', sha256('pgtap expired'), 3600);
update public.organization_invitations set expires_at = now() - interval '1 second' where token_hash = sha256('pgtap expired');
select throws_ok($$ select * from keygate.accept_invitation('c0000000-0000-4000-8000-000000000004', sha256('pgtap expired')) $$,
  'KG012', null, 'an expired invitation is not valid');
select keygate.create_invitation('c0000000-0000-4000-8000-000000000001', tests.org('pgtap-alpha'),
  'pgtap-org-other@example.test', 'admin', sha256('pgtap revoked'), 3600);
select lives_ok($$ select keygate.revoke_invitation('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
                   (select id from public.organization_invitations where token_hash = sha256('pgtap revoked'))) $$,
  'an admin revokes an invitation');
select throws_ok($$ select * from keygate.accept_invitation('c0000000-0000-4000-8000-000000000004', sha256('pgtap revoked')) $$,
  'KG012', null, 'a revoked invitation is not valid');
select throws_ok($$ select keygate.revoke_invitation('c0000000-0000-4000-8000-000000000001', tests.org('pgtap-alpha'),
                    (select id from public.organization_invitations where token_hash = sha256('pgtap beta token'))) $$,
  'KG004', null, 'another organization''s invitation cannot be revoked through this one');
select is((select count(*)::int from keygate.list_invitations('c0000000-0000-4000-8000-000000000001', tests.org('pgtap-alpha'))), 1,
  'list_invitations lists pending invitations only');
select keygate.create_invitation('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
  'pgtap-org-owner@example.test', 'member', sha256('pgtap owner again'), 3600);
select results_eq($$ select role from keygate.accept_invitation('c0000000-0000-4000-8000-000000000001', sha256('pgtap owner again')) $$,
  $$ values ('owner') $$, 'a member who accepts keeps their role, never lowered');
select ok((select accepted_at is not null from public.organization_invitations where token_hash = sha256('pgtap owner again')),
  'and the invitation is used up');

-- The last-owner guard, and ownership transfer.
select throws_ok($$ select keygate.change_member_role('c0000000-0000-4000-8000-000000000001', tests.org('pgtap-alpha'),
                    'c0000000-0000-4000-8000-000000000001', 'admin') $$, 'KG010', null, 'the last owner cannot be demoted');
select throws_ok($$ select keygate.remove_member('c0000000-0000-4000-8000-000000000001', tests.org('pgtap-alpha'),
                    'c0000000-0000-4000-8000-000000000001') $$, 'KG010', null, 'the last owner cannot leave');
select throws_ok($$ select keygate.transfer_ownership('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
                    'c0000000-0000-4000-8000-000000000003') $$, 'KG014', null, 'only an owner transfers ownership');
select lives_ok($$ select keygate.transfer_ownership('c0000000-0000-4000-8000-000000000001', tests.org('pgtap-alpha'),
                   'c0000000-0000-4000-8000-000000000002') $$, 'the owner transfers ownership');
select results_eq($$ select user_id, role from public.organization_members
                      where org_id = tests.org('pgtap-alpha') and role <> 'member' order by user_id $$,
  $$ values ('c0000000-0000-4000-8000-000000000001'::uuid, 'admin'), ('c0000000-0000-4000-8000-000000000002'::uuid, 'owner') $$,
  'the target is the owner and the old owner an admin');
select throws_ok($$ select keygate.remove_member('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
                    'c0000000-0000-4000-8000-000000000002') $$, 'KG010', null, 'the new last owner cannot leave either');
select lives_ok($$ select keygate.remove_member('c0000000-0000-4000-8000-000000000003', tests.org('pgtap-alpha'),
                   'c0000000-0000-4000-8000-000000000003') $$, 'a member leaves');

-- Deactivation.
select throws_ok($$ select keygate.deactivate_organization('c0000000-0000-4000-8000-000000000001', tests.org('pgtap-alpha')) $$,
  'KG014', null, 'an admin cannot deactivate');
select keygate.create_invitation('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'),
  'pgtap-org-other@example.test', 'member', sha256('pgtap late'), 3600);
select keygate.deactivate_organization('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'));
select keygate.deactivate_organization('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'));
select is(tests.org_events('pgtap-alpha', 'org.deactivated'), 1::bigint, 'deactivating twice is one event');
select throws_ok($$ select keygate.rename_organization('c0000000-0000-4000-8000-000000000002', tests.org('pgtap-alpha'), 'Later') $$,
  'KG013', null, 'a deactivated organization cannot be renamed');
select throws_ok($$ select * from keygate.accept_invitation('c0000000-0000-4000-8000-000000000004', sha256('pgtap late')) $$,
  'KG013', null, 'nobody joins a deactivated organization');

-- One event per change, each naming the organization, never a token.
select is(
  array(select distinct action from public.audit_events where org_id = tests.org('pgtap-alpha') order by 1),
  array['org.created', 'org.deactivated', 'org.invitation_accepted', 'org.invitation_created', 'org.invitation_revoked',
        'org.member_left', 'org.member_removed', 'org.member_role_changed', 'org.ownership_transferred', 'org.renamed'],
  'every kind of change is recorded with its organization');
select results_eq(
  $$ select actor_id, target_user_id, details from public.audit_events
      where org_id = tests.org('pgtap-alpha') and action in ('org.member_removed', 'org.member_left') order by id $$,
  $$ values ('c0000000-0000-4000-8000-000000000002'::uuid, 'c0000000-0000-4000-8000-000000000007'::uuid, '{"old_role": "member"}'::jsonb),
            ('c0000000-0000-4000-8000-000000000003'::uuid, 'c0000000-0000-4000-8000-000000000003'::uuid, '{"old_role": "member"}'::jsonb) $$,
  'an event names its actor and target');
select is(
  (select count(*)::int from public.audit_events
    where action like 'org.%' and (details::text like '%token%' or details ? 'email' or details ?| array['token', 'token_hash'])),
  0, 'no event holds a token or an address');

select tests.clear_authentication();
select * from finish();
rollback;
