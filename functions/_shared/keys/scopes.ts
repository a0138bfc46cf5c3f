/**
 * The documented API key scopes. Add a scope here (with what it allows) and
 * keys may be created with it; routes ask for scopes through `withApiKey`.
 */
import { KeygateError } from "../core/errors.ts";

export const SCOPES = {
  "jobs:read": "List and read the key owner's jobs.",
  "jobs:write": "Submit and cancel jobs on the key owner's behalf.",
  "jobs:work": "Claim the key owner's jobs and report on them: heartbeat, complete, fail.",
} as const;

export type Scope = keyof typeof SCOPES;

export const ALL_SCOPES = Object.keys(SCOPES) as Scope[];

export function isScope(value: string): value is Scope {
  return Object.hasOwn(SCOPES, value);
}

/** How much a scope allows, by its name: `<thing>:read`, `<thing>:admin`, or anything else. */
export type ScopeLevel = "read" | "write" | "admin";

/** A scope's level: `*:read` is read, `*:admin` admin, anything else (`jobs:work` too) write. Case-sensitive. */
export function scopeLevel(scope: string): ScopeLevel {
  if (scope.endsWith(":read")) return "read";
  if (scope.endsWith(":admin")) return "admin";
  return "write";
}

/**
 * The role ceiling: may a key whose owner has `role` use `scope`? `admin`
 * may use every scope, `member` read and write scopes, `viewer` read scopes
 * only, and any other role string none.
 *
 * This is exactly the rule of the SQL function `keygate.role_allows_scope`
 * (supabase/migrations/20261129000510_roles_and_capabilities.sql), which
 * refuses keys above the owner's role when they are created or rotated and
 * which `keygate.verify_api_key` applies; tests/keys/scopes.test.ts checks
 * the two agree against the database. It is applied here, to the stored
 * scopes that `keygate.lookup_api_key` returns with the role, because doing
 * it in the hot-path SQL (a subquery over the scopes) cost about 10-15% of
 * an uncached check's database throughput; here it is a few array
 * operations, cached with the verification.
 */
export function roleAllowsScope(role: string, scope: string): boolean {
  if (role === "admin") return true;
  switch (scopeLevel(scope)) {
    case "read":
      return role === "viewer" || role === "member";
    case "write":
      return role === "member";
    case "admin":
      return false;
  }
}

/**
 * The scopes a key whose owner has `role` may use, in their stored order (see
 * `roleAllowsScope`). A stored element that is not a string (a null written
 * by hand) grants nothing.
 */
export function scopesWithinRole(role: string, scopes: readonly (string | null)[]): string[] {
  return scopes.filter((scope): scope is string => typeof scope === "string" && roleAllowsScope(role, scope));
}

/** Throws 403 `insufficient_scope` unless `granted` holds every scope in `required`. */
export function assertScopes(granted: readonly string[], required: readonly string[]): void {
  const missing = required.filter((scope) => !granted.includes(scope));
  if (missing.length === 0) return;
  throw new KeygateError("insufficient_scope", `This API key lacks the scope ${missing.join(", ")}.`, {
    headers: {
      "www-authenticate": `Bearer realm="keygate", error="insufficient_scope", scope="${required.join(" ")}"`,
    },
  });
}
