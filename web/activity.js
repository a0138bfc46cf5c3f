// @ts-check
/**
 * "Recent activity": the signed-in user's own audit events (GET
 * /auth/activity), newest first, with "Show more". Built with DOM APIs only.
 * It follows the dashboard through its events: `keygate:signed-in`,
 * `keygate:signed-out` and `keygate:keys-loaded` (after any key change).
 * `describeEvent` and `eventTable` are shared with the admin page.
 */
import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { describeError, formatDateTime } from "./words.js";

/**
 * Who acted: a user, or (in a user's own activity, for anyone but themselves)
 * an administrator the API does not name; null for no one (Keygate itself, or
 * the operator's command).
 * @typedef {{ type: "user", id: string, email: string | null } | { type: "administrator" } | null} AuditActor
 */

/**
 * @typedef {{ id: string, occurred_at: string, action: string, outcome: string, reason: string | null,
 *   actor: AuditActor, target: { id: string, email: string | null } | null,
 *   target_key_id: string | null, client_address: string | null, user_agent: string | null,
 *   details: Record<string, unknown> }} AuditEvent
 */

/** @param {unknown} value */
const text = (value) => (typeof value === "string" ? value : Array.isArray(value) ? value.join(", ") || "none" : "");

/**
 * What happened, in words.
 * @param {AuditEvent} e
 */
export function describeEvent(e) {
  const d = e.details;
  const failed = e.outcome === "failure";
  switch (e.action) {
    case "sign_in":
      return failed
        ? `Sign-in refused (${e.reason ?? "unknown reason"})`
        : `Signed in with ${text(d.provider) || "a provider"}`;
    case "sign_out":
      return "Signed out";
    case "key.created":
      return failed
        ? `Key not created: ${e.reason === "scope_above_role" ? `role does not allow ${text(d.scopes)}` : e.reason}`
        : `Created key “${text(d.name)}”`;
    case "key.rotated":
      return failed ? `Key not rotated (${e.reason})` : `Rotated key “${text(d.name)}”`;
    case "key.revoked":
      return `Revoked key${d.name ? ` “${text(d.name)}”` : ""}`;
    case "user.role_changed":
      return `Role changed from ${text(d.from)} to ${text(d.to)}${e.reason === "first_sign_in" ? " (new account)" : ""}`;
    case "user.capabilities_changed":
      return `Capabilities changed from ${text(d.from)} to ${text(d.to)}`;
    case "user.deactivated":
      return "Account deactivated";
    case "user.reactivated":
      return "Account reactivated";
    case "org.created":
      return "Created the organization";
    case "org.renamed":
      return "Renamed the organization";
    case "org.deactivated":
      return e.reason === "by_platform_admin"
        ? "Organization deactivated by the platform"
        : "Deactivated the organization";
    case "org.reactivated":
      return "Organization reactivated by the platform";
    case "org.member_role_changed":
      return `Role changed from ${text(d.old_role)} to ${text(d.role)}`;
    case "org.member_removed":
      return "Removed from the organization";
    case "org.member_left":
      return "Left the organization";
    case "org.ownership_transferred":
      return "Made owner";
    case "org.invitation_created":
      return `Invited someone at ${text(d.email_domain)} as ${text(d.role)}`;
    case "org.invitation_revoked":
      return "Revoked an invitation";
    case "org.invitation_accepted":
      return `Joined as ${text(d.role)}`;
    default:
      return `${e.action} (${e.outcome})`;
  }
}

/**
 * Who acted, in the user's own activity: the only user the API names there is
 * the user themselves.
 * @param {AuditActor} actor
 */
const byWhom = (actor) => (actor === null ? "Keygate" : actor.type === "administrator" ? "An administrator" : "You");

/**
 * A table of events: who acted (you, an administrator, Keygate) and from
 * where; `withUsers` (the admin page) names who acted and on whom instead.
 * @param {AuditEvent[]} events
 * @param {{ withUsers?: boolean }} [options]
 */
export function eventTable(events, { withUsers = false } = {}) {
  const headings = ["When", "What", ...(withUsers ? ["By", "Whose"] : ["By"]), "Result", "From"];
  /** @param {AuditActor | { email: string | null }} u */
  const who = (u) => (u === null ? "system" : "email" in u ? (u.email ?? "(deleted user)") : "an administrator");
  return h("table", { class: "keys events" }, [
    h("thead", {}, [
      h(
        "tr",
        {},
        headings.map((t) => h("th", { scope: "col" }, [t])),
      ),
    ]),
    h(
      "tbody",
      {},
      events.map((e) =>
        h("tr", { "data-action": e.action, "data-outcome": e.outcome }, [
          h("td", { "data-label": "When" }, [h("time", { datetime: e.occurred_at }, [formatDateTime(e.occurred_at)])]),
          h("th", { scope: "row", "data-label": "What" }, [describeEvent(e)]),
          ...(withUsers
            ? [
                h("td", { "data-label": "By" }, [who(e.actor)]),
                h("td", { "data-label": "Whose" }, [e.target ? who(e.target) : ""]),
              ]
            : [h("td", { "data-label": "By" }, [byWhom(e.actor)])]),
          h("td", { "data-label": "Result" }, [
            h("span", { class: `status status-${e.outcome === "success" ? "active" : "revoked"}` }, [
              e.outcome === "success" ? "OK" : "Refused",
            ]),
          ]),
          // The own view gives no address for what someone else did.
          h("td", { "data-label": "From" }, [e.client_address ?? ""]),
        ]),
      ),
    ),
  ]);
}

const section = document.getElementById("activity-section");

if (section) {
  const title = h("h2", { id: "activity-title" }, ["Recent activity"]);
  const note = h("p", { class: "muted" }, [
    "Sign-ins, sign-outs, key changes and changes an administrator made to your account.",
  ]);
  const status = h("p", { class: "muted", role: "status" }, []);
  const list = h("div", { class: "table-wrap", "data-testid": "activity" }, []);
  const more = h("button", { type: "button", class: "button secondary", hidden: "" }, ["Show more"]);
  section.replaceChildren(title, note, status, list, h("div", { class: "actions" }, [more]));

  /** @type {AuditEvent[]} */
  let shown = [];
  /** @type {string | null} */
  let cursor = null;
  let request = 0;

  /** @param {boolean} append */
  async function load(append) {
    const mine = ++request;
    try {
      /** @type {{ events: AuditEvent[], next_cursor: string | null }} */
      const page = await api(
        `auth/activity?limit=20${append && cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      if (mine !== request) return;
      shown = append ? [...shown, ...page.events] : page.events;
      cursor = page.next_cursor;
      status.textContent = shown.length ? "" : "Nothing yet.";
      list.replaceChildren(...(shown.length ? [eventTable(shown)] : []));
      more.hidden = cursor === null;
    } catch (err) {
      if (mine !== request) return;
      status.textContent = err instanceof ApiError ? describeError(err.code, err.message) : describeError(undefined);
    }
  }

  more.addEventListener("click", () => load(true));
  document.addEventListener("keygate:signed-in", () => {
    section.hidden = false;
    load(false);
  });
  document.addEventListener("keygate:keys-loaded", () => {
    if (!section.hidden) load(false);
  });
  document.addEventListener("keygate:signed-out", () => {
    request += 1;
    section.hidden = true;
    shown = [];
    list.replaceChildren();
  });
}
