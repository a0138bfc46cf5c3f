/**
 * Every database error Keygate gives a meaning to, in one table: the
 * SQLSTATEs Keygate's own SQL functions raise (class KG, see the
 * migrations), input the SQL refused, and the failures of a database or
 * pooler that cannot serve (a 503 with a jittered Retry-After, from which
 * service recovers by itself). Anything else stays as it is, and becomes a
 * 500 that logs only its code (http/response.ts).
 */
import { type ErrorCode, KeygateError } from "../core/errors.ts";
import { jitteredRetryAfter } from "../core/retry-after.ts";

const sqlStateCodes: Record<string, [ErrorCode, string]> = {
  KG001: ["user_inactive", "This account is disabled."],
  KG002: ["email_unverified", "The provider did not confirm this email address."],
  KG003: ["key_limit_reached", "You have reached the limit of active API keys. Revoke one first."],
  KG004: ["not_found", "Nothing here."],
  KG006: ["rate_limited", "Too many requests. Wait a minute and try again."],
  KG008: ["last_admin", "This is the last active admin: make another admin first."],
  KG010: ["last_owner", "An organization needs an owner: make another member owner first."],
  KG011: ["not_a_member", "That person is not a member of this organization."],
  KG012: [
    "invitation_invalid",
    "This invitation is not valid: it may have expired, been revoked or used, or be for another email address.",
  ],
  KG013: ["org_inactive", "This organization is deactivated."],
  KG014: ["forbidden", "Your role in this organization does not allow this."],
};

/** A capability name as the SQL refusal lists them (`users.manage`); nothing else reaches a message. */
const CAPABILITY_NAME = /^[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*$/;

/**
 * A change the actor's capabilities do not allow, decided in SQL under the
 * target's row lock (KG009, the missing capabilities in the error's detail).
 */
export function missingCapabilityError(missing: readonly string[]): KeygateError {
  return new KeygateError(
    "forbidden",
    missing.length > 0
      ? `This needs the capability ${missing.join(" and ")}.`
      : "This needs a capability you do not hold.",
  );
}

/**
 * Connection-level failures: the database or the pooler in front of it is
 * down, restarting, saturated, or lost the session a statement needed.
 * - `08...` connection exceptions; PgBouncer sends its own refusals as
 *   `08P01` ("no more connections allowed", `query_wait_timeout`, "server
 *   login has been failing", ...).
 * - `57P..` shutdown, `53...` insufficient resources (`53300` too many
 *   connections).
 * - `26000` / `42P05`: a prepared statement missing or already there, which
 *   only a transaction pooler causes (Keygate names statements only with
 *   DB_PREPARED_STATEMENTS, which is not for such a pooler).
 * - The pool's own wait for a connection or a query timing out (pool.ts),
 *   node-postgres giving up a connection attempt (`timeout expired`), and
 *   sockets failing.
 */
function isUnavailable(err: { code?: string; message?: string }): boolean {
  const code = err.code ?? "";
  if (/^(08|57P|53)/.test(code) || code === "26000" || code === "42P05") return true;
  if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"].includes(code)) return true;
  const message = err.message ?? "";
  return /timeout exceeded when trying to connect|Query read timeout|^timeout expired$|Connection terminated|connection.*(closed|ended)|Client has encountered a connection error|no more connections allowed|query_wait_timeout|server login has been failing|pgbouncer cannot connect|max client connections reached/i.test(
    message,
  );
}

export function mapDbError(err: unknown): unknown {
  if (err instanceof KeygateError || typeof err !== "object" || err === null) return err;
  const e = err as { code?: string; message?: string; detail?: unknown };
  if (e.code === "KG009") {
    const detail = typeof e.detail === "string" ? e.detail.split(",") : [];
    return missingCapabilityError(detail.filter((name) => CAPABILITY_NAME.test(name)));
  }
  const mapped = e.code ? sqlStateCodes[e.code] : undefined;
  if (mapped) {
    const headers: Record<string, string> = mapped[0] === "rate_limited" ? { "retry-after": "60" } : {};
    return new KeygateError(mapped[0], mapped[1], { headers });
  }
  // Input the SQL refused (bad value, check constraint, duplicate): the
  // caller's fault, never a 500. Handlers validate first; this is the net.
  if (e.code === "23505") return new KeygateError("conflict", "That already exists.");
  if (e.code && /^2[23]/.test(e.code)) {
    return new KeygateError("validation_failed", "A value in the request is not acceptable.");
  }
  if (isUnavailable(e)) {
    return new KeygateError("service_unavailable", "The service is temporarily unavailable. Try again shortly.", {
      headers: { "retry-after": jitteredRetryAfter() },
      cause: err,
    });
  }
  return err;
}
