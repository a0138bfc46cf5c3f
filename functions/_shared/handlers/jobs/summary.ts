/**
 * GET /jobs/summary: the dashboard's Jobs view, for a signed-in user (session
 * cookie or bearer, never an API key): how many of their own jobs are in each
 * status, and their latest jobs without payloads or results. Their own: the
 * user's id is the owner id the job functions take, so the jobs of their
 * organizations are not in it. The jobs router gives this route the
 * dashboard's credentialed CORS (handler.ts).
 */
import type { AuthenticatedUser } from "../../auth/user.ts";
import type { Db } from "../../db/db.ts";
import type { JobRow } from "../../db/rows.ts";
import { json } from "../../http/response.ts";
import { presentJobLine } from "./present.ts";
import { JOB_STATUSES } from "./schemas.ts";

export const SUMMARY_LATEST = 20;

export interface JobSummaryDeps {
  db: Db;
  resolveUser: (req: Request) => Promise<AuthenticatedUser>;
}

export function createJobSummary({ db, resolveUser }: JobSummaryDeps): (req: Request) => Promise<Response> {
  return async (req) => {
    const user = await resolveUser(req);
    const [counted, latest] = await Promise.all([
      db.query<{ status: string; count: string }>("select * from keygate.count_jobs($1)", [user.id]),
      db.query<JobRow>("select * from keygate.list_jobs($1, null, null, null, null, $2)", [user.id, SUMMARY_LATEST]),
    ]);
    const counts = Object.fromEntries(JOB_STATUSES.map((status) => [status, 0]));
    for (const row of counted) counts[row.status] = Number(row.count);
    return json({ counts, jobs: latest.map(presentJobLine) }, { headers: { "cache-control": "no-store" } });
  };
}
