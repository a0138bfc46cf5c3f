/**
 * How a job looks to clients. Internal columns (the owner, the Idempotency-Key
 * and the request's hash, the lease length) stay inside.
 */
import type { JobRow } from "../../db/rows.ts";

export function presentJob(job: JobRow) {
  return {
    id: job.id,
    type: job.type,
    status: job.status,
    payload: job.payload,
    priority: job.priority,
    attempts: job.attempts,
    max_attempts: job.max_attempts,
    run_at: job.run_at,
    lease_expires_at: job.lease_expires_at,
    progress: job.progress ?? null,
    result: job.result ?? null,
    error: job.error,
    created_by_key_id: job.api_key_id,
    claimed_by_key_id: job.claimed_by_key_id,
    created_at: job.created_at,
    updated_at: job.updated_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
  };
}

/** The dashboard's line for a job: no payload or result, which may be large. */
export function presentJobLine(job: JobRow) {
  return {
    id: job.id,
    type: job.type,
    status: job.status,
    attempts: job.attempts,
    max_attempts: job.max_attempts,
    progress: job.progress ?? null,
    error: job.error,
    run_at: job.run_at,
    created_at: job.created_at,
    updated_at: job.updated_at,
  };
}
