/**
 * Admin capabilities: single admin powers a user may hold beside their role,
 * so an operator can get one power without all of them. The role `admin`
 * implies every one. The same list is the check constraint on
 * `public.user_capabilities` (supabase/migrations/20261129000510_roles_and_capabilities.sql):
 * a new capability is one line here and one in a new migration.
 */
export const CAPABILITIES = {
  "users.read": "Search users and see their roles, capabilities and keys.",
  "users.manage": "Deactivate and reactivate users and change their role.",
  "keys.revoke_any": "Revoke any user's API key.",
  "audit.read": "Read everyone's audit log.",
  "capabilities.grant": "Grant and remove capabilities, and make or unmake admins.",
} as const;

export type Capability = keyof typeof CAPABILITIES;

export const ALL_CAPABILITIES = Object.keys(CAPABILITIES) as Capability[];

export function isCapability(value: string): value is Capability {
  return Object.hasOwn(CAPABILITIES, value);
}

export const ROLES = ["viewer", "member", "admin"] as const;

export type Role = (typeof ROLES)[number];
