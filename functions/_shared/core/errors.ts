/**
 * The one error type of Keygate. Anything that should reach a client as a
 * 4xx/5xx JSON error is a KeygateError; `toResponse` in http/response.ts is the only
 * place that turns errors into responses, with two deliberate exceptions
 * (docs/architecture.md, "Errors"), both still built from a KeygateError:
 * - verify-key's refusal (handlers/verify-key/handler.ts), written for speed in its
 *   own shape, `{"valid": false, "error": {...}}`, serialized once at start-up;
 * - a failed sign-in callback (auth/callback.ts), which redirects to the
 *   dashboard with `?error=<code>` (or `#error=<code>`) instead of answering JSON.
 */
export type ErrorCode =
  | "bad_request"
  | "invalid_json"
  | "unsupported_media_type"
  | "payload_too_large"
  | "validation_failed"
  | "unauthorized"
  | "invalid_api_key"
  | "insufficient_scope"
  | "forbidden"
  | "csrf_origin_mismatch"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "key_limit_reached"
  | "job_limit_reached"
  | "idempotency_key_reused"
  | "job_not_running"
  | "job_already_finished"
  | "lease_not_held"
  | "rate_limited"
  | "invalid_redirect"
  | "unknown_provider"
  | "login_expired"
  | "state_mismatch"
  | "provider_error"
  | "access_denied"
  | "email_unverified"
  | "user_inactive"
  | "invalid_grant"
  | "service_unavailable"
  | "internal_error"
  | "scope_above_role"
  | "last_admin"
  | "last_owner"
  | "not_a_member"
  | "invitation_invalid"
  | "org_inactive";

/** Every error code with its status: the whole vocabulary on one screen (docs/api.md lists the same). */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_json: 400,
  unsupported_media_type: 415,
  payload_too_large: 413,
  validation_failed: 400,
  unauthorized: 401,
  invalid_api_key: 401,
  insufficient_scope: 403,
  forbidden: 403,
  csrf_origin_mismatch: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  key_limit_reached: 409,
  job_limit_reached: 409,
  idempotency_key_reused: 409,
  job_not_running: 409,
  job_already_finished: 409,
  lease_not_held: 409,
  rate_limited: 429,
  invalid_redirect: 400,
  unknown_provider: 404,
  login_expired: 400,
  state_mismatch: 400,
  provider_error: 502,
  access_denied: 403,
  email_unverified: 403,
  user_inactive: 403,
  invalid_grant: 400,
  service_unavailable: 503,
  internal_error: 500,
  scope_above_role: 403,
  last_admin: 409,
  last_owner: 409,
  not_a_member: 404,
  invitation_invalid: 400,
  org_inactive: 409,
};

export class KeygateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers, e.g. `WWW-Authenticate` or `Retry-After`. */
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { status?: number; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "KeygateError";
    this.code = code;
    this.status = options.status ?? ERROR_STATUS[code];
    this.headers = options.headers ?? {};
  }
}
