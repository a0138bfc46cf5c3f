/**
 * The documented API key scopes. Add a scope here (with what it allows) and
 * keys may be created with it; routes ask for scopes through `withApiKey`.
 */
import { KeygateError } from "../errors.ts";

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
