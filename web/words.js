// @ts-check
/**
 * What the dashboard says: API error codes in words a person understands, key
 * statuses, dates and the curl lines to try a key. Pure functions, no DOM, so
 * they are unit-tested on Node (tests/web/words.test.ts).
 */

/** Codes the sign-in callback puts in `/?error=<code>` (or `#error=<code>`), and API error codes. */
const MESSAGES = /** @type {Record<string, string>} */ ({
  login_expired: "That sign-in link expired, please try again.",
  state_mismatch: "That sign-in didn't match this browser. Please start again from this page.",
  access_denied: "Sign-in was cancelled. You can try again whenever you like.",
  email_unverified: "Your email address isn't verified with that provider. Verify it there, then sign in again.",
  email_conflict: "An account with that email already signs in another way. Please sign in the way you did before.",
  user_inactive: "This account has been deactivated. Ask an administrator to turn it back on.",
  provider_error: "The sign-in provider didn't answer properly. Please try again in a moment.",
  unknown_provider: "That sign-in method isn't set up on this server.",
  invalid_redirect: "That sign-in link pointed somewhere it shouldn't. Please start again from this page.",
  invalid_grant: "That sign-in could not be completed: it was already used or took too long. Please sign in again.",
  unauthorized: "Your session has ended. Please sign in again.",
  key_limit_reached: "You have as many API keys as allowed. Revoke one you no longer use, then try again.",
  rate_limited: "That was a lot of requests at once. Please wait a minute and try again.",
  csrf_origin_mismatch:
    "The server refused a request that didn't come from its own address. Reload the page and try again.",
  forbidden: "You aren't allowed to do that.",
  scope_above_role:
    "Your role doesn't allow one of those scopes. Untick it, or ask an administrator for a higher role.",
  last_admin: "That is the last active admin: make someone else an admin first.",
  last_owner: "An organization needs an owner: make another member owner first.",
  not_a_member: "That person is not a member of this organization.",
  invitation_invalid:
    "This invitation is not valid: it may have expired, been revoked or used, or be for another email address.",
  org_inactive: "This organization is deactivated.",
  not_found: "That key no longer exists. The list has been refreshed.",
  payload_too_large: "That was too much text. Please shorten it and try again.",
  service_unavailable: "The service is unavailable for a moment (is the database up?). Please try again shortly.",
  network_error: "Couldn't reach the server. Check that it is running and try again.",
  internal_error: "Something went wrong on the server. Please try again.",
});

const GENERIC = "Something went wrong. Please try again.";

/** Codes whose server message already says what to fix (it names the field). */
const SHOW_SERVER_MESSAGE = new Set(["validation_failed", "bad_request", "invalid_json"]);

/**
 * The sentence to show for an error code; `serverMessage` is used only where
 * it helps (form validation), never in place of a known sentence.
 * @param {string | null | undefined} code
 * @param {string} [serverMessage]
 */
export function describeError(code, serverMessage) {
  if (code && Object.hasOwn(MESSAGES, code)) return MESSAGES[code];
  if (code && SHOW_SERVER_MESSAGE.has(code) && serverMessage) return `Please check the form: ${serverMessage}`;
  return GENERIC;
}

/**
 * The sentence for `/?error=<code>` after a failed sign-in.
 * @param {string} code
 */
export function describeLoginError(code) {
  if (Object.hasOwn(MESSAGES, code)) return MESSAGES[code];
  return "Sign-in didn't complete. Please try again.";
}

/**
 * @typedef {{ id: string, name: string, start: string, scopes: string[], created_at: string,
 *   last_used_at: string | null, expires_at: string | null, revoked_at: string | null,
 *   creator_is_member?: boolean }} KeySummary
 * @typedef {{ kind: "active" | "revoked" | "expired" | "rotating", until?: string }} KeyStatus
 */

/**
 * A key's status at `now` (ms). A revocation in the future is a rotation's grace period.
 * @param {KeySummary} key
 * @param {number} now
 * @returns {KeyStatus}
 */
export function keyStatus(key, now) {
  if (key.revoked_at) {
    const revokedAt = Date.parse(key.revoked_at);
    if (revokedAt <= now) return { kind: "revoked" };
    if (key.expires_at && Date.parse(key.expires_at) <= now) return { kind: "expired" };
    return { kind: "rotating", until: key.revoked_at };
  }
  if (key.expires_at && Date.parse(key.expires_at) <= now) return { kind: "expired" };
  return { kind: "active" };
}

/**
 * @param {KeyStatus} status
 * @param {(iso: string) => string} [formatDate]
 */
export function statusLabel(status, formatDate = formatDateTime) {
  switch (status.kind) {
    case "active":
      return "Active";
    case "revoked":
      return "Revoked";
    case "expired":
      return "Expired";
    case "rotating":
      return `Rotating: works until ${formatDate(/** @type {string} */ (status.until))}`;
  }
}

/**
 * A date and time in the reader's locale, e.g. "12 Mar 2026, 14:05".
 * @param {string} iso
 */
export function formatDateTime(iso) {
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

/**
 * @param {string | null} iso
 * @param {string} whenNull
 */
export function formatOptionalDate(iso, whenNull) {
  return iso ? formatDateTime(iso) : whenNull;
}

/**
 * The two curl lines that try a new key against the `jobs` function.
 * @param {string} functionsBase e.g. "http://127.0.0.1:54321/functions/v1"
 * @param {string} key
 */
export function curlExamples(functionsBase, key) {
  const url = `${functionsBase}/jobs`;
  return {
    list: `curl -H "x-api-key: ${key}" ${url}`,
    submit:
      `curl -X POST -H "x-api-key: ${key}" -H "content-type: application/json" ` +
      `-d '{"type":"hello","payload":{"from":"curl"}}' ${url}`,
  };
}

/**
 * Up to two initials for an avatar without a picture.
 * @param {string | null} name
 * @param {string} email
 */
export function initials(name, email) {
  const words = (name ?? "").trim().split(/\s+/).filter(Boolean);
  const letters = words.length ? words.slice(0, 2).map((w) => w[0]) : [email[0] ?? "?"];
  return letters.join("").toUpperCase();
}

/**
 * Progress in words: `{done, total}` as "3 / 10", a number or text as is,
 * anything else as short JSON.
 * @param {unknown} progress
 */
export function describeProgress(progress) {
  if (progress === null || progress === undefined) return "—";
  if (typeof progress === "object" && !Array.isArray(progress)) {
    const { done, total } = /** @type {{ done?: unknown, total?: unknown }} */ (progress);
    if (typeof done === "number" && typeof total === "number") return `${done} / ${total}`;
  }
  const text = typeof progress === "string" ? progress : JSON.stringify(progress);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}
