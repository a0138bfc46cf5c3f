/**
 * `jobs`: a queue that backend services drive with their API keys, and the
 * dashboard's summary of it. The route table at the bottom is the list of
 * routes; each key route asks for its own scope.
 *
 * Every job belongs to the key's owner, a user or an organization (all of
 * its keys share one queue): another owner's job is 404 to every route. Only
 * the key that claimed a running job may heartbeat, complete or fail it; with
 * `attempt`, only for that attempt. A transition that does not apply to the
 * job's state is 409 (refusal.ts says which). Submitting with an
 * Idempotency-Key makes retries safe. Every body is read exactly: a payload,
 * progress or result is stored as sent, or refused with 400 naming the value
 * that cannot be (http/exact-json.ts).
 */

import type { AuthenticatedUser } from "../../auth/user.ts";
import type { JobSettings } from "../../config/config.ts";
import { DEFAULT_JOB_SETTINGS } from "../../config/defaults.ts";
import { KeygateError } from "../../core/errors.ts";
import type { Db } from "../../db/db.ts";
import type { JobRow, JobSubmissionRow } from "../../db/rows.ts";
import { browserCors } from "../../http/cors.ts";
import { json, notFound, readJson } from "../../http/response.ts";
import { createRouter, type Params, type RouteHandler, route } from "../../http/router.ts";
import type { Scope } from "../../keys/scopes.ts";
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
import { createJobSummary } from "./summary.ts";

/** How every body is read: what a job holds is what its client sent, or a 400. */
const EXACT = { exact: true };

export interface JobsHandlerDeps {
  db: Db;
  withApiKey: WithApiKey;
  /** The signed-in user of a dashboard request (GET /jobs/summary). */
  resolveUser: (req: Request) => Promise<AuthenticatedUser>;
  /** Origins whose browsers may read the summary with credentials. */
  allowedOrigins: readonly string[];
  settings?: JobSettings;
}

export function createJobsHandler({
  db,
  withApiKey,
  resolveUser,
  allowedOrigins,
  settings = DEFAULT_JOB_SETTINGS,
}: JobsHandlerDeps): (req: Request) => Promise<Response> {
  async function submit(req: Request, _params: unknown, ctx: ApiKeyContext): Promise<Response> {
    const key = idempotencyKey(req);
    const body = await readJson(req, createBody, EXACT);
    assertFieldSize("payload", body.payload);
    const [row] = await db.query<JobSubmissionRow>(
      "select * from keygate.create_job($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
      [
        ctx.owner.id,
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
          `${ctx.owner.type === "organization" ? "The organization has" : "You have"} ${settings.maxUnfinished} ` +
            "unfinished jobs, the most allowed. Let some finish or cancel them.",
        );
    }
  }

  async function list(req: Request, _params: unknown, ctx: ApiKeyContext): Promise<Response> {
    const query = parseListQuery(new URL(req.url));
    const cursor = query.cursor === null ? null : decodeCursor(query.cursor);
    const rows = await db.query<JobRow & { created_us: string }>(
      `select j.*, (extract(epoch from j.created_at) * 1000000)::bigint::text as created_us
         from keygate.list_jobs($1, $2, $3, $4, $5, $6) j`,
      [ctx.owner.id, query.status, query.type, cursor?.createdUs ?? null, cursor?.id ?? null, query.limit],
    );
    const last = rows.length === query.limit ? rows[rows.length - 1] : undefined;
    return json({
      jobs: rows.map(presentJob),
      next_cursor: last ? encodeCursor({ createdUs: last.created_us, id: last.id }) : null,
    });
  }

  async function get(_req: Request, { id }: Params<"/:id">, ctx: ApiKeyContext): Promise<Response> {
    const [job] = await db.query<JobRow>("select * from keygate.get_job($1, $2)", [ctx.owner.id, id]);
    if (!job) throw notFound();
    return json(presentJob(job));
  }

  async function claim(req: Request, _params: unknown, ctx: ApiKeyContext): Promise<Response> {
    const body = await readJson(req, claimBody, EXACT);
    const jobs = await db.query<JobRow>("select * from keygate.claim_jobs($1, $2, $3, $4, $5)", [
      ctx.owner.id,
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
    const [current] = await db.query<JobRow>("select * from keygate.get_job($1, $2)", [ctx.owner.id, id]);
    throw transitionRefusal(current, action, { keyId: ctx.keyId, attempt });
  }

  async function heartbeat(req: Request, { id }: Params<"/:id">, ctx: ApiKeyContext): Promise<Response> {
    const body = await readJson(req, heartbeatBody, EXACT);
    assertFieldSize("progress", body.progress);
    return await transition(
      ctx,
      id,
      "heartbeat",
      body.attempt,
      "select * from keygate.heartbeat_job($1, $2, $3, $4, $5, $6)",
      [
        ctx.owner.id,
        ctx.keyId,
        id,
        body.attempt ?? null,
        body.progress === undefined ? null : JSON.stringify(body.progress),
        body.lease_seconds ?? null,
      ],
    );
  }

  async function complete(req: Request, { id }: Params<"/:id">, ctx: ApiKeyContext): Promise<Response> {
    const body = await readJson(req, completeBody, EXACT);
    assertFieldSize("result", body.result);
    return await transition(
      ctx,
      id,
      "complete",
      body.attempt,
      "select * from keygate.complete_job($1, $2, $3, $4, $5)",
      [
        ctx.owner.id,
        ctx.keyId,
        id,
        body.attempt ?? null,
        body.result === undefined ? null : JSON.stringify(body.result),
      ],
    );
  }

  async function fail(req: Request, { id }: Params<"/:id">, ctx: ApiKeyContext): Promise<Response> {
    const body = await readJson(req, failBody, EXACT);
    assertFieldSize("error", body.error);
    return await transition(
      ctx,
      id,
      "fail",
      body.attempt,
      "select * from keygate.fail_job($1, $2, $3, $4, $5, $6, $7, $8)",
      [
        ctx.owner.id,
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

  async function cancel(req: Request, { id }: Params<"/:id">, ctx: ApiKeyContext): Promise<Response> {
    await readJson(req, emptyBody, EXACT);
    return await transition(ctx, id, "cancel", undefined, "select * from keygate.cancel_job($1, $2)", [
      ctx.owner.id,
      id,
    ]);
  }

  /** A route that needs a key holding `scope`; the handler gets the key's owner. */
  function keyed<P extends string>(
    scope: Scope,
    handle: (req: Request, params: Params<P>, ctx: ApiKeyContext) => Promise<Response>,
  ): RouteHandler<P, void> {
    return async (req, params) => await handle(req, params, await withApiKey.authenticate(req, [scope]));
  }

  const summary = createJobSummary({ db, resolveUser });
  const handle = createRouter(
    [
      route("POST", "/jobs", keyed("jobs:write", submit)),
      route("GET", "/jobs", keyed("jobs:read", list)),
      route("GET", "/jobs/summary", summary, { cors: browserCors(allowedOrigins) }),
      route("POST", "/jobs/claim", keyed("jobs:work", claim)),
      route("GET", "/jobs/:id(uuid)", keyed("jobs:read", get)),
      route("POST", "/jobs/:id(uuid)/heartbeat", keyed("jobs:work", heartbeat)),
      route("POST", "/jobs/:id(uuid)/complete", keyed("jobs:work", complete)),
      route("POST", "/jobs/:id(uuid)/fail", keyed("jobs:work", fail)),
      route("POST", "/jobs/:id(uuid)/cancel", keyed("jobs:write", cancel)),
    ],
    { cors: withApiKey.cors },
  );
  return (req) => handle(req);
}
