/**
 * Which capabilities an admin action needs: a pure decision, so it is
 * unit-tested apart from the routes that apply it.
 *
 * Changing a role or the active flag (of a user or an organization) needs
 * `users.manage`; seeing users or organizations needs `users.read`; changing
 * capabilities needs `capabilities.grant`. Making someone an admin, or
 * acting on an admin (changing their role, deactivating them), grants or
 * takes away every capability at once, so it needs `capabilities.grant` too.
 *
 * The authority for a change is the SQL function that makes it: it applies
 * the same rule (keygate.admin_required_capabilities; a test checks that the
 * two agree) to the target and the actor as they are under its lock. Here
 * the rule decides the reads (users, the audit log) and refuses a change
 * early when the actor lacks what any target would need.
 */
import { missingCapabilityError } from "../../db/errors.ts";
import type { Capability, Role } from "./capabilities.ts";

export type AdminAction =
  | { kind: "list_users" | "get_user" | "read_audit" | "revoke_key" | "list_orgs" | "set_org_active" }
  | { kind: "set_active"; targetRole: string }
  | { kind: "update_user"; targetRole: string; role?: Role; capabilities?: readonly string[] };

export function requiredCapabilities(action: AdminAction): Capability[] {
  switch (action.kind) {
    case "list_users":
    case "get_user":
    case "list_orgs":
      return ["users.read"];
    case "set_org_active":
      return ["users.manage"];
    case "read_audit":
      return ["audit.read"];
    case "revoke_key":
      return ["keys.revoke_any"];
    case "set_active":
      return action.targetRole === "admin" ? ["users.manage", "capabilities.grant"] : ["users.manage"];
    case "update_user": {
      const needed = new Set<Capability>();
      if (action.role !== undefined && action.role !== action.targetRole) {
        needed.add("users.manage");
        if (action.role === "admin" || action.targetRole === "admin") needed.add("capabilities.grant");
      }
      if (action.capabilities !== undefined) needed.add("capabilities.grant");
      return [...needed];
    }
  }
}

/** Throws 403 `forbidden`, naming what is missing, unless `held` covers `needed`. */
export function assertCapabilities(held: readonly string[], needed: readonly Capability[]): void {
  const missing = needed.filter((c) => !held.includes(c));
  if (missing.length === 0) return;
  throw missingCapabilityError(missing);
}
