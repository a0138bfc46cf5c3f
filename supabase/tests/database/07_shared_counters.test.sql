-- Shared counters and throttled audit events: no client, and not even the
-- service role, touches the counters table except through its function; a
-- flush sums per bucket and window and answers with the totals; a throttled
-- event is recorded once per bucket and window. Rolled back at the end.
begin;
create extension if not exists pgtap;

select plan(14);

select ok((select relrowsecurity from pg_class where oid = 'public.shared_counters'::regclass), 'RLS is enabled on public.shared_counters');
select policies_are('public', 'shared_counters', array[]::name[], 'shared_counters has no policy: no client reaches it');
select table_privs_are('public', 'shared_counters', 'anon', array[]::text[]);
select table_privs_are('public', 'shared_counters', 'authenticated', array[]::text[]);
select table_privs_are('public', 'shared_counters', 'service_role', array[]::text[],
  'service_role reaches shared_counters only through keygate functions');
select ok(not has_function_privilege('authenticated', 'keygate.add_to_shared_counters(text[], integer[], bigint[], bigint[], integer[])', 'execute'),
  'authenticated cannot add to shared counters');
select ok(has_function_privilege('service_role', 'keygate.add_to_shared_counters(text[], integer[], bigint[], bigint[], integer[])', 'execute'),
  'service_role adds to shared counters through keygate.add_to_shared_counters');
select ok(not has_function_privilege('authenticated', 'keygate.record_throttled_event(text, integer, bigint, text, uuid, text, text, jsonb)', 'execute'),
  'authenticated cannot record throttled events');

create temporary table w as select (extract(epoch from now())::bigint / 60) * 60 as start;

select results_eq(
  $$ select bucket, total from keygate.add_to_shared_counters(
       array['pgtap:a', 'pgtap:b', 'pgtap:a'], array[60, 60, 60],
       array[(select start from w), (select start from w), (select start from w)], array[1, 2, 3]::bigint[], array[60, 60, 60]) $$,
  $$ values ('pgtap:a'::text, 4::bigint), ('pgtap:b', 2) $$,
  'a flush sums repeated buckets and answers with the totals'
);
select results_eq(
  $$ select total from keygate.add_to_shared_counters(array['pgtap:a'], array[60], array[(select start from w)], array[5]::bigint[], array[60]) $$,
  $$ values (9::bigint) $$,
  'a later flush answers with the cluster total'
);
select throws_ok(
  $$ select * from keygate.add_to_shared_counters(array['pgtap:a'], array[60], array[(select start from w) + 1], array[1]::bigint[], array[60]) $$,
  '22023', null, 'a window start that is not a multiple of its window is refused'
);

select ok(keygate.record_throttled_event('pgtap:t', 60, (select start from w), 'sign_in.throttled', null, '192.0.2.1', null, '{"scope": "address"}'),
  'the first claim of a throttled window records the event');
select ok(not keygate.record_throttled_event('pgtap:t', 60, (select start from w), 'sign_in.throttled', null, '192.0.2.1', null, '{"scope": "address"}'),
  'a second claim of the same window records nothing');
select is((select count(*)::int from public.audit_events where action = 'sign_in.throttled' and reason = 'rate_limited' and client_address = '192.0.2.1'), 1,
  'one throttled event for the window');

select * from finish();
rollback;
