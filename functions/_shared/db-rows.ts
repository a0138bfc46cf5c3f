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

/** A row of `keygate.verify_api_key`: a live key's owner and scopes. */
export interface VerifyRow {
  key_id: string;
  user_id: string;
  scopes: string[];
  expires_at: Date | null;
  valid_until: Date | null;
  last_used_at: Date | null;
}

/** A `public.jobs` row (create_job, list_jobs, get_job). */
export interface JobRow {
  id: string;
  user_id: string;
  api_key_id: string | null;
  type: string;
  payload: Record<string, unknown>;
  status: string;
  created_at: Date;
  updated_at: Date;
}
