/**
 * Reads the audit log, newest first, a page at a time: the user's own
 * activity (`GET /auth/activity`, listOwnAuditEvents), an organization's for
 * its owners and admins (`GET /orgs/:id/audit`, listOrgAuditEvents) and
 * everyone's for holders of `audit.read` (`GET /admin/audit`, listAuditEvents). Filters and
 * the cursor come from the query string:
 *
 *   ?limit=1..100 (default 50) &cursor=<next_cursor of the previous page>
 *   &action=<name> &outcome=success|failure
 *   &actor=<user id> &target=<user id> &user=<user id: actor or target>   (admin only)
 *
 * The answer is `{events: [...], next_cursor}`; `next_cursor` is null on the last page.
 * An event's `actor` is null (no one: Keygate itself or the operator's
 * command), `{type: "user", id, email}`, or, in a user's own view for anyone
 * but themselves, `{type: "administrator"}`: the own view's SQL function
 * (keygate.list_own_audit_events) never returns another actor's identity,
 * address or user agent, so nothing here can show them.
 */
import { z } from "zod";
import { KeygateError } from "../core/errors.ts";
import { UUID_PATTERN } from "../core/uuid.ts";
import type { Db } from "../db/db.ts";

export interface AuditEventRow {
  id: string;
  occurred_at: Date;
  actor_id: string | null;
  actor_email: string | null;
  target_user_id: string | null;
  target_email: string | null;
  target_key_id: string | null;
  action: string;
  outcome: string;
  reason: string | null;
  client_address: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
  /** Only in the own view: who acted, as keygate.list_own_audit_events tells it. */
  actor_type?: "user" | "administrator" | "system";
}

export type AuditActor = { type: "user"; id: string; email: string | null } | { type: "administrator" };

const uuid = z.string().regex(UUID_PATTERN, { message: "a user id" });

const filters = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z
    .string()
    .regex(/^[1-9][0-9]{0,17}$/, { message: "the next_cursor of a previous page" })
    .optional(),
  action: z
    .string()
    .regex(/^[a-z][a-z_.]{1,63}$/, { message: "an event name such as sign_in" })
    .optional(),
  outcome: z.enum(["success", "failure"]).optional(),
  actor: uuid.optional(),
  target: uuid.optional(),
  user: uuid.optional(),
});

export type AuditQuery = z.infer<typeof filters>;

const ownFilters = filters.omit({ actor: true, target: true, user: true });

/** Parses the query string; `own` refuses the filters that name other users. */
export function parseAuditQuery(url: URL, { own = false } = {}): AuditQuery {
  const params = Object.fromEntries(url.searchParams);
  const parsed = (own ? ownFilters : filters).safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new KeygateError("validation_failed", `${where}${issue?.message ?? "invalid query"}`);
  }
  return parsed.data;
}

function actorOf(e: AuditEventRow): AuditActor | null {
  if (e.actor_type === "administrator") return { type: "administrator" };
  return e.actor_id ? { type: "user", id: e.actor_id, email: e.actor_email } : null;
}

function present(e: AuditEventRow) {
  return {
    id: String(e.id),
    occurred_at: e.occurred_at,
    action: e.action,
    outcome: e.outcome,
    reason: e.reason,
    actor: actorOf(e),
    target: e.target_user_id ? { id: e.target_user_id, email: e.target_email } : null,
    target_key_id: e.target_key_id,
    client_address: e.client_address,
    user_agent: e.user_agent,
    details: e.details,
  };
}

function pageOf(rows: AuditEventRow[], limit: number) {
  const page = rows.slice(0, limit);
  return {
    events: page.map(present),
    next_cursor: rows.length > limit ? String(page[page.length - 1].id) : null,
  };
}

/** Everyone's events, in full (`GET /admin/audit`). */
export async function listAuditEvents(db: Db, query: AuditQuery) {
  const rows = await db.query<AuditEventRow>("select * from keygate.list_audit_events($1, $2, $3, $4, $5, $6, $7)", [
    query.cursor ?? null,
    query.limit + 1,
    query.user ?? null,
    query.actor ?? null,
    query.target ?? null,
    query.action ?? null,
    query.outcome ?? null,
  ]);
  return pageOf(rows, query.limit);
}

/** The events `userId` did or that touched them, another actor's identity, address and agent left out. */
export async function listOwnAuditEvents(
  db: Db,
  userId: string,
  query: Pick<AuditQuery, "limit" | "cursor" | "action" | "outcome">,
) {
  const rows = await db.query<AuditEventRow>("select * from keygate.list_own_audit_events($1, $2, $3, $4, $5)", [
    userId,
    query.cursor ?? null,
    query.limit + 1,
    query.action ?? null,
    query.outcome ?? null,
  ]);
  return pageOf(rows, query.limit);
}

/** An organization's events for its owners and admins: who acted and on whom, never an address or agent. */
export async function listOrgAuditEvents(
  db: Db,
  actorId: string,
  orgId: string,
  query: Pick<AuditQuery, "limit" | "cursor" | "action" | "outcome">,
) {
  const rows = await db.query<AuditEventRow>("select * from keygate.list_org_audit_events($1, $2, $3, $4, $5, $6)", [
    actorId,
    orgId,
    query.cursor ?? null,
    query.limit + 1,
    query.action ?? null,
    query.outcome ?? null,
  ]);
  return pageOf(rows, query.limit);
}
