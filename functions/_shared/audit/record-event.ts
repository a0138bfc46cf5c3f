/**
 * Appends one event to the audit log (keygate.append_audit_event), for the
 * events that are not written inside the SQL function that made the change:
 * sign-in and its refusals, sign-out, a refused key creation.
 *
 * Best effort: a failure to record is logged (by name only) and never turns
 * a sign-in or a refusal into another answer. Only whitelisted facts go into
 * `details`; never a key, token, cookie or code.
 */

import { type Logger, logError } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import type { RequestMeta } from "./request-meta.ts";

export interface AuditEvent {
  action: string;
  outcome: "success" | "failure";
  actorId?: string | null;
  targetUserId?: string | null;
  targetKeyId?: string | null;
  /** A snake_case reason code, e.g. the error code of a refusal. */
  reason?: string | null;
  details?: Record<string, string | number | boolean | null | string[]>;
}

export const APPEND_AUDIT_EVENT = "select keygate.append_audit_event($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/** `meta`: requestMeta of the request the event is about. */
export async function recordAuditEvent(
  db: Db,
  meta: RequestMeta,
  event: AuditEvent,
  log: Logger = logError,
): Promise<void> {
  try {
    await db.query(APPEND_AUDIT_EVENT, [
      event.action,
      event.outcome,
      event.actorId ?? null,
      event.targetUserId ?? null,
      event.targetKeyId ?? null,
      event.reason && /^[a-z][a-z0-9_]{0,63}$/.test(event.reason) ? event.reason : null,
      meta.clientAddress,
      meta.userAgent,
      event.details ?? {},
    ]);
  } catch (err) {
    log("audit event not recorded", { action: event.action, name: err instanceof Error ? err.name : typeof err });
  }
}
