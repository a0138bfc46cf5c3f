/**
 * Why a transition did not apply, decided from the job as it is now. The
 * transitions are single guarded updates that change nothing when they do not
 * apply; this names the reason for the 409 (or 404) that follows.
 */

import { KeygateError } from "../../core/errors.ts";
import type { JobRow } from "../../db/rows.ts";
import { notFound } from "../../http/response.ts";

export type JobAction = "heartbeat" | "complete" | "fail" | "cancel";

export function transitionRefusal(
  job: Pick<JobRow, "status" | "claimed_by_key_id" | "attempts"> | undefined,
  action: JobAction,
  caller: { keyId: string; attempt?: number },
): KeygateError {
  if (!job) return notFound();
  if (action === "cancel") {
    if (job.status !== "queued" && job.status !== "running") {
      return new KeygateError(
        "job_already_finished",
        `The job already finished (${job.status}); it cannot be canceled.`,
      );
    }
  } else {
    if (job.status !== "running") {
      return new KeygateError("job_not_running", `The job is ${job.status}, not running: it cannot ${action}.`);
    }
    if (job.claimed_by_key_id !== caller.keyId) {
      return new KeygateError("lease_not_held", "Another API key claimed this job; only that key may report on it.");
    }
    if (caller.attempt !== undefined && caller.attempt !== job.attempts) {
      return new KeygateError(
        "lease_not_held",
        `Attempt ${caller.attempt}'s lease expired and the job was claimed again (attempt ${job.attempts}).`,
      );
    }
  }
  return new KeygateError("conflict", "The job changed meanwhile; read it and try again.");
}
