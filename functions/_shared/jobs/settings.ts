/**
 * Job queue limits, from the environment:
 *
 * | variable                  | default | meaning                                                  |
 * | ------------------------- | ------- | -------------------------------------------------------- |
 * | `JOBS_CREATE_PER_MINUTE`  | 600     | jobs a user may submit per minute (then 429)             |
 * | `JOBS_MAX_UNFINISHED`     | 1000    | queued + running jobs a user may have (then 409)         |
 * | `JOBS_RETENTION_DAYS`     | 7       | finished jobs are deleted this long after they finished  |
 * | `JOBS_RETRY_BASE_SECONDS` | 10      | first retry delay; doubles with each attempt             |
 * | `JOBS_RETRY_MAX_SECONDS`  | 3600    | the longest retry delay                                  |
 */
import type { Env } from "../config.ts";

export interface JobSettings {
  createPerMinute: number;
  maxUnfinished: number;
  retentionDays: number;
  retryBaseSeconds: number;
  retryMaxSeconds: number;
}

export const DEFAULT_JOB_SETTINGS: JobSettings = {
  createPerMinute: 600,
  maxUnfinished: 1000,
  retentionDays: 7,
  retryBaseSeconds: 10,
  retryMaxSeconds: 3600,
};

function wholeNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

export function loadJobSettings(env: Env): JobSettings {
  const d = DEFAULT_JOB_SETTINGS;
  const settings = {
    createPerMinute: wholeNumber(env, "JOBS_CREATE_PER_MINUTE", d.createPerMinute, 1, 1_000_000),
    maxUnfinished: wholeNumber(env, "JOBS_MAX_UNFINISHED", d.maxUnfinished, 1, 1_000_000),
    // At least a day: an Idempotency-Key lives as long as its job, and must be remembered for 24 hours.
    retentionDays: wholeNumber(env, "JOBS_RETENTION_DAYS", d.retentionDays, 1, 3650),
    retryBaseSeconds: wholeNumber(env, "JOBS_RETRY_BASE_SECONDS", d.retryBaseSeconds, 1, 86_400),
    retryMaxSeconds: wholeNumber(env, "JOBS_RETRY_MAX_SECONDS", d.retryMaxSeconds, 1, 7 * 86_400),
  };
  if (settings.retryMaxSeconds < settings.retryBaseSeconds) {
    throw new Error("JOBS_RETRY_MAX_SECONDS must not be less than JOBS_RETRY_BASE_SECONDS");
  }
  return settings;
}
