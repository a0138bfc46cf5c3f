/**
 * The rows the `keygate` SQL functions return (supabase/migrations), as
 * node-postgres hands them over: timestamps as Date, uuids as strings. One
 * definition for the handlers and the tests that call the same functions.
 */

/** A `public.users` row (upsert_user_from_identity, find_user_by_identity). */
export interface UserRow {
  id: string;
  email: string;
  name: string | null;
  image_url: string | null;
  role: string;
  is_active: boolean;
  last_login_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** `keygate.api_key_info`: what a client may see of a key (never its hash). */
export interface ApiKeyInfoRow {
  id: string;
  name: string;
  start: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
}

/** `keygate.org_api_key_info`: what a member may see of an organization's key. */
export interface OrgApiKeyInfoRow extends ApiKeyInfoRow {
  org_id: string;
  /** Who made it; null once their account is deleted. */
  created_by: string | null;
  /** Whether its maker is still a member of the organization. */
  creator_is_member: boolean;
}

/**
 * A row of `keygate.lookup_api_key`: a live key's owner (exactly one of
 * `user_id` and `org_id`), its maker, its scopes as stored (no role ceiling:
 * the verifier applies it) and the ceiling's role.
 */
export interface VerifyRow {
  key_id: string;
  /** A personal key's owner. */
  user_id: string | null;
  /** An organization key's owner. */
  org_id: string | null;
  /** Who made the key (a personal key's owner); null once their account is deleted. */
  created_by: string | null;
  /** As stored: `scopesWithinRole(role, scopes)` is what the key may use. */
  scopes: string[];
  /** The ceiling: the owner's current role (`viewer`, `member` or `admin`), `member` for an organization's key. */
  role: string;
  expires_at: Date | null;
  valid_until: Date | null;
  last_used_at: Date | null;
}

/** A `public.jobs` row (list_jobs, get_job, claim_jobs and the transitions). */
export interface JobRow {
  id: string;
  /** A user's job: exactly one of `user_id` and `org_id` is set. */
  user_id: string | null;
  /** An organization's job. */
  org_id: string | null;
  /** Whichever of the two it is: what the job functions take as `p_owner_id`. */
  owner_id: string;
  /** The key that created the job. */
  api_key_id: string | null;
  type: string;
  payload: Record<string, unknown>;
  status: "queued" | "running" | "succeeded" | "failed" | "canceled";
  created_at: Date;
  updated_at: Date;
  priority: number;
  run_at: Date;
  attempts: number;
  max_attempts: number;
  lease_seconds: number | null;
  lease_expires_at: Date | null;
  /** The key that claimed the job last. */
  claimed_by_key_id: string | null;
  progress: unknown;
  result: unknown;
  error: string | null;
  started_at: Date | null;
  finished_at: Date | null;
  idempotency_key: string | null;
  request_hash: Uint8Array | null;
}

/** A row of `keygate.create_job`: what became of a submission. */
export interface JobSubmissionRow {
  outcome: "created" | "replayed" | "idempotency_key_reused" | "rate_limited" | "job_limit_reached";
  job_id: string | null;
  job_created_at: Date | null;
  retry_after: number | null;
}
