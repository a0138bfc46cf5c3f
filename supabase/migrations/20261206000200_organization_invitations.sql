-- Invitations to join an organization.
--
-- Why: an owner or admin invites a person by email address; the invitation
-- carries a single-use token, sent to that address, that the invitee presents
-- once signed in. Only the token's hash is stored (like a key's or a
-- session's), so a read of this table cannot accept an invitation. An
-- invitation is accepted by the user whose verified address it names, at most
-- once, before it expires, and not after it was revoked
-- (keygate.accept_invitation in 20261206000300_organization_functions.sql).
--
-- A signed-in client may read, through RLS, the invitations of the
-- organizations where they are owner or admin, every column but token_hash.
-- Clients write nothing.

-- Bounded waits: this references public.users and public.organizations.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

create table public.organization_invitations (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.organizations (id) on delete cascade,
  -- Stored lowercased: it is compared with lower(users.email).
  email text not null check (email = lower(email) and length(email) between 3 and 320 and position('@' in email) > 1),
  role text not null check (role in ('admin', 'member')),
  token_hash bytea not null unique,
  invited_by uuid references public.users (id) on delete set null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  accepted_at timestamptz,
  accepted_by uuid references public.users (id) on delete set null,
  revoked_at timestamptz
);
alter table public.organization_invitations enable row level security;
create index organization_invitations_org_id_idx on public.organization_invitations (org_id, created_at);
create index organization_invitations_invited_by_idx on public.organization_invitations (invited_by)
  where invited_by is not null;
create index organization_invitations_accepted_by_idx on public.organization_invitations (accepted_by)
  where accepted_by is not null;

-- Clients get no write privilege, and no read of token_hash.
revoke all on table public.organization_invitations from public, anon, authenticated;
grant select (id, org_id, email, role, invited_by, created_at, expires_at, accepted_at, accepted_by, revoked_at)
  on table public.organization_invitations to authenticated;
grant all on table public.organization_invitations to service_role;

create policy "Owners and admins can read their organizations' invitations" on public.organization_invitations
  for select to authenticated using (org_id in (select keygate.org_ids_for_current_user(array['owner', 'admin'])));
