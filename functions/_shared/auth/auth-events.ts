/**
 * The sign-in function's audit events: a sign-in (which also settles a new
 * user's role, see RoleSettings in config.ts), a refused sign-in with its reason
 * code, and a sign-out. Best effort, like record-event.ts: a failure to
 * record is logged and changes no answer. Each takes the requestMeta of the
 * request it records.
 */

import { recordAuditEvent } from "../audit/record-event.ts";
import type { RequestMeta } from "../audit/request-meta.ts";
import type { RoleSettings } from "../config/config.ts";
import { type Logger, logError } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import { hashSessionToken } from "./sessions.ts";

const DEFAULT_ROLES: RoleSettings = { defaultRole: "viewer", adminEmails: [] };

export async function recordSignInEvent(
  db: Db,
  meta: RequestMeta,
  { userId, provider, roles = DEFAULT_ROLES }: { userId: string; provider: string; roles?: RoleSettings },
  log: Logger = logError,
): Promise<string | null> {
  try {
    const [row] = await db.query<{ role: string | null }>(
      "select keygate.record_sign_in($1, $2, $3, $4, $5, $6) as role",
      [userId, provider, roles.defaultRole, roles.adminEmails, meta.clientAddress, meta.userAgent],
    );
    return row?.role ?? null;
  } catch (err) {
    log("sign-in event not recorded", { name: err instanceof Error ? err.name : typeof err });
    return null;
  }
}

export async function recordSignInRefusal(
  db: Db,
  meta: RequestMeta,
  provider: string,
  reason: string,
  log: Logger = logError,
) {
  await recordAuditEvent(db, meta, { action: "sign_in", outcome: "failure", reason, details: { provider } }, log);
}

/** Call before the session ends: the event names the session's user. */
export async function recordSignOut(db: Db, meta: RequestMeta, token: string, log: Logger = logError): Promise<void> {
  try {
    await db.query("select keygate.record_sign_out($1, $2, $3)", [
      hashSessionToken(token),
      meta.clientAddress,
      meta.userAgent,
    ]);
  } catch (err) {
    log("sign-out event not recorded", { name: err instanceof Error ? err.name : typeof err });
  }
}
