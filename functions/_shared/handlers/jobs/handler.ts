/**
 * `jobs`: a queue that backend services drive with their API keys.
 *
 *   POST /jobs                  (jobs:write) submit; Idempotency-Key makes retries safe  -> 202
 *   GET  /jobs                  (jobs:read)  ?status=&type=&cursor=&limit=, newest first -> 200
 *   GET  /jobs/<id>             (jobs:read)  the job                                      -> 200
 *   POST /jobs/claim            (jobs:work)  {types?, limit?, lease_seconds?}            -> 200 {jobs}
 *   POST /jobs/<id>/heartbeat   (jobs:work)  {attempt?, progress?, lease_seconds?}       -> 200 the job
 *   POST /jobs/<id>/complete    (jobs:work)  {attempt?, result?}                         -> 200 the job
 *   POST /jobs/<id>/fail        (jobs:work)  {attempt?, error, retry?}                   -> 200 the job
 *   POST /jobs/<id>/cancel      (jobs:write)                                             -> 200 the job
 *   GET  /jobs/summary          (a signed-in user, not a key; see summary.ts)
 *
 * Every job belongs to the key's owner: another user's job is 404 to every
 * route. Only the key that claimed a running job may heartbeat, complete or
 * fail it; with `attempt`, only for that attempt. A transition that does not
 * apply to the job's state is 409 (refusal.ts says which).
 */

import type { JobSettings } from "../../config/config.ts";
import { DEFAULT_JOB_SETTINGS } from "../../config/defaults.ts";
import { KeygateError } from "../../core/errors.ts";
import { isUuid } from "../../core/uuid.ts";
import type { Db } from "../../db/db.ts";
import type { JobRow, JobSubmissionRow } from "../../db/rows.ts";
import { json, methodNotAllowed, notFound, readJson, subPath } from "../../http/response.ts";
import { assertScopes } from "../../keys/scopes.ts";
import type { ApiKeyContext, WithApiKey } from "../../keys/with-api-key.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { presentJob } from "./present.ts";
import { type JobAction, transitionRefusal } from "./refusal.ts";
import {
  assertFieldSize,
  claimBody,
  completeBody,
  createBody,
  DEFAULT_LEASE_SECONDS,
  emptyBody,
  failBody,
  heartbeatBody,
  idempotencyKey,
  parseListQuery,
  parseRunAt,
} from "./schemas.ts";

export interface JobsHandlerDeps {
  db: Db;
  withApiKey: WithApiKey;
  settings?: JobSettings;
}

export function createJobsHandler({
  db,
  withApiKey,
  settings = DEFAULT_JOB_SETTINGS,
}: JobsHandlerDeps): (req: Request) => Response | Promise<Response> {
  async function submit(req: Request, ctx: ApiKeyContext): Promise<Response> {
    assertScopes(ctx.scopes, ["jobs:write"]);
    const key = idempotencyKey(req);
    const body = await readJson(req, createBody);
    assertFieldSize("payload", body.payload);
    const [row] = await db.query<JobSubmissionRow>(
      "select * from keygate.create_job($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
      [
        ctx.userId,
        ctx.keyId,
        body.type,
        body.payload ?? {},
        parseRunAt(body.run_at),
        body.max_attempts ?? 3,
        body.priority ?? 0,
        key,
        settings.createPerMinute,
        settings.maxUnfinished,
        settings.retentionDays,
      ],
    );
    switch (row.outcome) {
      case "created":
      case "replayed":
        return json(
          { id: row.job_id, status: "queued", created_at: row.job_created_at },
          { status: 202, headers: row.outcome === "replayed" ? { "idempotent-replayed": "true" } : {} },
        );
      case "idempotency_key_reused":
        throw new KeygateError("idempotency_key_reused", "This Idempotency-Key was used with a different request.");
      case "rate_limited":
        throw new KeygateError("rate_limited", `Over ${settings.createPerMinute} jobs a minute. Wait and try again.`, {
          headers: { "retry-after": String(row.retry_after ?? 60) },
        });
      case "job_limit_reached":
        throw new KeygateError(
          "job_limit_reached",
          `You have ${settings.maxUnfinished} unfinished jobs, the most allowed. Let some finish or cancel them.`,
        );
    }
  }

  async function list(req: Request, ctx: ApiKeyContext): Promise<Response> {
    assertScopes(ctx.scopes, ["jobs:read"]);
    const query = parseListQuery(new URL(req.url));
    const cursor = query.cursor === null ? null : decodeCursor(query.cursor);
    const rows = await db.query<JobRow & { created_us: string }>(
      `select j.*, (extract(epoch from j.created_at) * 1000000)::bigint::text as created_us
         from keygate.list_jobs($1, $2, $3, $4, $5, $6) j`,
      [ctx.userId, query.status, query.type, cursor?.createdUs ?? null, cursor?.id ?? null, query.limit],
    );
    const last = rows.length === query.limit ? rows[rows.length - 1] : undefined;
    return json({
      jobs: rows.map(presentJob),
      next_cursor: last ? encodeCursor({ createdUs: last.created_us, id: last.id }) : null,
    });
  }

  async function get(ctx: ApiKeyContext, id: string): Promise<Response> {
    assertScopes(ctx.scopes, ["jobs:read"]);
    const [job] = await db.query<JobRow>("select * from keygate.get_job($1, $2)", [ctx.userId, id]);
    if (!job) throw notFound();
    return json(presentJob(job));
  }

  async function claim(req: Request, ctx: ApiKeyContext): Promise<Response> {
    assertScopes(ctx.scopes, ["jobs:work"]);
    const body = await readJson(req, claimBody);
    const jobs = await db.query<JobRow>("select * from keygate.claim_jobs($1, $2, $3, $4, $5)", [
      ctx.userId,
      ctx.keyId,
      body.types ?? null,
      body.limit ?? 1,
      body.lease_seconds ?? DEFAULT_LEASE_SECONDS,
    ]);
    return json({ jobs: jobs.map(presentJob) });
  }

  /** Runs one guarded transition; when it changed nothing, reads the job to say why. */
  async function transition(
    ctx: ApiKeyContext,
    id: string,
    action: JobAction,
    attempt: number | undefined,
    sql: string,
    values: unknown[],
  ): Promise<Response> {
    const [job] = await db.query<JobRow>(sql, values);
    if (job) return json(presentJob(job));
    const [current] = await db.query<JobRow>("select * from keygate.get_job($1, $2)", [ctx.userId, id]);
    throw transitionRefusal(current, action, { keyId: ctx.keyId, attempt });
  }

  async function act(req: Request, ctx: ApiKeyContext, id: string, action: string): Promise<Response> {
    switch (action) {
      case "heartbeat": {
        assertScopes(ctx.scopes, ["jobs:work"]);
        const body = await readJson(req, heartbeatBody);
        assertFieldSize("progress", body.progress);
        return await transition(
          ctx,
          id,
          action,
          body.attempt,
          "select * from keygate.heartbeat_job($1, $2, $3, $4, $5, $6)",
          [
            ctx.userId,
            ctx.keyId,
            id,
            body.attempt ?? null,
            body.progress === undefined ? null : JSON.stringify(body.progress),
            body.lease_seconds ?? null,
          ],
        );
      }
      case "complete": {
        assertScopes(ctx.scopes, ["jobs:work"]);
        const body = await readJson(req, completeBody);
        assertFieldSize("result", body.result);
        return await transition(
          ctx,
          id,
          action,
          body.attempt,
          "select * from keygate.complete_job($1, $2, $3, $4, $5)",
          [
            ctx.userId,
            ctx.keyId,
            id,
            body.attempt ?? null,
            body.result === undefined ? null : JSON.stringify(body.result),
          ],
        );
      }
      case "fail": {
        assertScopes(ctx.scopes, ["jobs:work"]);
        const body = await readJson(req, failBody);
        assertFieldSize("error", body.error);
        return await transition(
          ctx,
          id,
          action,
          body.attempt,
          "select * from keygate.fail_job($1, $2, $3, $4, $5, $6, $7, $8)",
          [
            ctx.userId,
            ctx.keyId,
            id,
            body.attempt ?? null,
            body.error,
            body.retry ?? true,
            settings.retryBaseSeconds,
            settings.retryMaxSeconds,
          ],
        );
      }
      case "cancel": {
        assertScopes(ctx.scopes, ["jobs:write"]);
        await readJson(req, emptyBody);
        return await transition(ctx, id, action, undefined, "select * from keygate.cancel_job($1, $2)", [
          ctx.userId,
          id,
        ]);
      }
      default:
        throw notFound();
    }
  }

  // The key is checked first; each route then asks for its own scope.
  return withApiKey({ methods: "GET, POST, OPTIONS" }, async (req, ctx) => {
    const path = subPath(req, "jobs");
    if (path.length === 0) {
      if (req.method === "POST") return await submit(req, ctx);
      if (req.method === "GET") return await list(req, ctx);
      throw methodNotAllowed(["GET", "POST", "OPTIONS"]);
    }
    if (path.length === 1 && path[0] === "claim") {
      if (req.method === "POST") return await claim(req, ctx);
      throw methodNotAllowed(["POST", "OPTIONS"]);
    }
    if (!isUuid(path[0]) || path.length > 2) throw notFound();
    if (path.length === 1) {
      if (req.method === "GET") return await get(ctx, path[0]);
      throw methodNotAllowed(["GET", "OPTIONS"]);
    }
    if (!["heartbeat", "complete", "fail", "cancel"].includes(path[1])) throw notFound();
    if (req.method !== "POST") throw methodNotAllowed(["POST", "OPTIONS"]);
    return await act(req, ctx, path[0], path[1]);
  });
}
