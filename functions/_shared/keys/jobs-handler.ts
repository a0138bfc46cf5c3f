/**
 * `jobs`: what backend jobs do with an API key (DESIGN.md section 5).
 *
 *   POST /jobs       (jobs:write) {type, payload?} -> 202 {id, status: "queued", created_at}
 *   GET  /jobs       (jobs:read)  ?limit=1..100 (default 50) -> 200 {jobs: [...]}, newest first
 *   GET  /jobs/<id>  (jobs:read)  -> 200 the job, or 404 (another user's job, or not a uuid)
 *
 * Every job belongs to the key's owner and records the key that created it.
 */
import { z } from "zod";
import type { Db } from "../db.ts";
import { KeygateError } from "../errors.ts";
import { json, methodNotAllowed, notFound, readJson, subPath } from "../http.ts";
import { assertScopes } from "./scopes.ts";
import type { ApiKeyContext, WithApiKey } from "./with-api-key.ts";
import type { JobRow } from "../db-rows.ts";

export interface JobsHandlerDeps {
  db: Db;
  withApiKey: WithApiKey;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const createBody = z.strictObject({
  type: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, {
    message: "1-64 letters, digits or _ . : -, starting with a letter or digit",
  }),
  payload: z.record(z.string(), z.unknown()).optional(),
});

function present(job: JobRow) {
  return {
    id: job.id,
    type: job.type,
    status: job.status,
    payload: job.payload,
    api_key_id: job.api_key_id,
    created_at: job.created_at,
    updated_at: job.updated_at,
  };
}

function parseLimit(url: URL): number {
  const raw = url.searchParams.get("limit");
  if (raw === null) return 50;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new KeygateError("validation_failed", "limit: a whole number from 1 to 100");
  }
  return limit;
}

export function createJobsHandler({ db, withApiKey }: JobsHandlerDeps): (req: Request) => Response | Promise<Response> {
  async function create(req: Request, ctx: ApiKeyContext): Promise<Response> {
    assertScopes(ctx.scopes, ["jobs:write"]);
    const body = await readJson(req, createBody);
    const [job] = await db.query<JobRow>(
      "select * from keygate.create_job($1, $2, $3, $4)",
      [ctx.userId, ctx.keyId, body.type, body.payload ?? {}],
      "kg_create_job",
    );
    return json({ id: job.id, status: job.status, created_at: job.created_at }, { status: 202 });
  }

  async function list(req: Request, ctx: ApiKeyContext): Promise<Response> {
    assertScopes(ctx.scopes, ["jobs:read"]);
    const jobs = await db.query<JobRow>(
      "select * from keygate.list_jobs($1, $2)",
      [ctx.userId, parseLimit(new URL(req.url))],
      "kg_list_jobs",
    );
    return json({ jobs: jobs.map(present) });
  }

  async function get(ctx: ApiKeyContext, id: string): Promise<Response> {
    assertScopes(ctx.scopes, ["jobs:read"]);
    if (!UUID.test(id)) throw notFound();
    const [job] = await db.query<JobRow>("select * from keygate.get_job($1, $2)", [ctx.userId, id], "kg_get_job");
    if (!job) throw notFound();
    return json(present(job));
  }

  // The key is checked first; each route then asks for its own scope.
  return withApiKey({ methods: "GET, POST, OPTIONS" }, async (req, ctx) => {
    const path = subPath(req, "jobs");
    if (path.length === 0) {
      if (req.method === "POST") return await create(req, ctx);
      if (req.method === "GET") return await list(req, ctx);
      throw methodNotAllowed(["GET", "POST", "OPTIONS"]);
    }
    if (path.length === 1) {
      if (req.method === "GET") return await get(ctx, path[0]);
      throw methodNotAllowed(["GET", "OPTIONS"]);
    }
    throw notFound();
  });
}
