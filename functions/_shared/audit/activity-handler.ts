/**
 * `GET /auth/activity`: the signed-in user's own recent security events
 * (sign-ins and refusals of their account, sign-outs, their keys, changes an
 * admin made to them), newest first, with the cursor and filters of
 * list-events.ts except those naming other users.
 */
import type { Db } from "../db.ts";
import { json } from "../http.ts";
import { listAuditEvents, parseAuditQuery } from "./list-events.ts";

export function createActivityRoute(db: Db): (req: Request, user: { id: string }) => Promise<Response> {
  return async (req, user) => {
    const query = parseAuditQuery(new URL(req.url), { own: true });
    const page = await listAuditEvents(db, { ...query, user: user.id });
    return json(page, { headers: { "cache-control": "no-store" } });
  };
}
