/**
 * `GET /auth/activity`: the signed-in user's own recent security events
 * (sign-ins and refusals of their account, sign-outs, their keys, changes an
 * admin made to them), newest first, with the cursor and filters of
 * list-events.ts except those naming other users. An admin's change shows
 * that an administrator made it, never who, from where or with what
 * (keygate.list_own_audit_events).
 */

import { listOwnAuditEvents, parseAuditQuery } from "../../audit/list-events.ts";
import type { Db } from "../../db/db.ts";
import { json } from "../../http/response.ts";

export function createActivityRoute(db: Db): (req: Request, user: { id: string }) => Promise<Response> {
  return async (req, user) => {
    const query = parseAuditQuery(new URL(req.url), { own: true });
    const page = await listOwnAuditEvents(db, user.id, query);
    return json(page, { headers: { "cache-control": "no-store" } });
  };
}
