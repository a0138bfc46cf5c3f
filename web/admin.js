// @ts-check
/**
 * The admin page, for holders of any admin capability (GET /admin/me): find
 * users, open one to see their keys, change their role and capabilities,
 * deactivate or reactivate them, revoke any key, and read the audit log.
 * Each control appears only with the capability it needs; the server checks
 * again. DOM APIs only, no HTML parsing of anything a user wrote.
 */

import { eventTable } from "./activity.js";
import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { describeError, formatOptionalDate } from "./words.js";

/**
 * @typedef {{ id: string, email: string, name: string | null, role: string, capabilities: string[], is_active: boolean,
 *   last_login_at: string | null, created_at: string, active_keys: number }} AdminUser
 * @typedef {import("./words.js").KeySummary} KeySummary
 * @typedef {import("./activity.js").AuditEvent} AuditEvent
 */

const ROLES = ["viewer", "member", "admin"];
const CAPABILITIES = /** @type {Record<string, string>} */ ({
  "users.read": "find users and see their keys",
  "users.manage": "deactivate, reactivate, change role",
  "keys.revoke_any": "revoke any key",
  "audit.read": "read the audit log",
  "capabilities.grant": "grant capabilities, make admins",
});

const LAST_ADMIN = "That is the last active admin: make someone else an admin first.";

const section = document.getElementById("admin-section");

/** @param {string} label @param {string} cls @param {() => void} onClick @param {Record<string, string>} [attrs] */
function button(label, cls, onClick, attrs = {}) {
  const b = h("button", { type: "button", class: `button ${cls}`, ...attrs }, [label]);
  b.addEventListener("click", onClick);
  return b;
}

if (section) {
  const root = section;
  /** @type {string[]} */
  let held = [];
  const can = (/** @type {string} */ c) => held.includes(c);

  const heading = h("h2", { id: "admin-title" }, ["Administration"]);
  const powers = h("p", { class: "muted" }, []);
  const message = h("p", { class: "note", role: "alert", hidden: "" }, []);

  /** @param {unknown} err */
  function showError(err) {
    message.hidden = false;
    if (err instanceof ApiError && err.code === "last_admin") message.textContent = LAST_ADMIN;
    else if (err instanceof ApiError) message.textContent = describeError(err.code, err.message);
    else message.textContent = describeError(undefined);
  }

  /** @param {string} text */
  function say(text) {
    message.hidden = false;
    message.textContent = text;
  }

  // ------------------------------------------------------------ user search

  const query = h("input", {
    id: "admin-query",
    type: "search",
    maxlength: "200",
    autocomplete: "off",
    placeholder: "email or name",
  });
  const searchForm = h("form", { class: "create-form", role: "search" }, [
    h("div", { class: "field" }, [h("label", { for: "admin-query" }, ["Find a user"]), query]),
    h("div", { class: "actions" }, [h("button", { type: "submit", class: "button primary" }, ["Search"])]),
  ]);
  const results = h("div", { class: "table-wrap" }, []);
  const moreUsers = h("button", { type: "button", class: "button secondary", hidden: "" }, ["More users"]);
  /** @type {AdminUser[]} */
  let found = [];
  /** @type {string | null} */
  let usersCursor = null;

  /** @param {boolean} append */
  async function search(append) {
    const q = /** @type {HTMLInputElement} */ (query).value.trim();
    const params = new URLSearchParams({ limit: "20" });
    if (q) params.set("query", q);
    if (append && usersCursor) params.set("cursor", usersCursor);
    try {
      /** @type {{ users: AdminUser[], next_cursor: string | null }} */
      const page = await api(`admin/users?${params}`);
      found = append ? [...found, ...page.users] : page.users;
      usersCursor = page.next_cursor;
      moreUsers.hidden = usersCursor === null;
      results.replaceChildren(found.length ? userTable(found) : h("p", { class: "muted" }, ["No user matches."]));
    } catch (err) {
      showError(err);
    }
  }

  /** @param {AdminUser[]} users */
  function userTable(users) {
    return h("table", { class: "keys", "data-testid": "admin-users" }, [
      h("thead", {}, [
        h(
          "tr",
          {},
          ["Email", "Name", "Role", "Status", "Active keys", "Last sign-in", ""].map((t) =>
            h("th", { scope: "col" }, [t]),
          ),
        ),
      ]),
      h(
        "tbody",
        {},
        users.map((u) =>
          h("tr", { "data-user-id": u.id }, [
            h("th", { scope: "row", "data-label": "Email" }, [u.email]),
            h("td", { "data-label": "Name" }, [u.name ?? ""]),
            h("td", { "data-label": "Role" }, [u.role]),
            h("td", { "data-label": "Status" }, [u.is_active ? "Active" : "Deactivated"]),
            h("td", { "data-label": "Active keys" }, [String(u.active_keys)]),
            h("td", { "data-label": "Last sign-in" }, [formatOptionalDate(u.last_login_at, "Never")]),
            h("td", { class: "row-actions" }, [
              button(
                "Open",
                "secondary small",
                () => {
                  message.hidden = true;
                  openUser(u.id);
                },
                { "aria-label": `Open ${u.email}` },
              ),
            ]),
          ]),
        ),
      ),
    ]);
  }

  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    message.hidden = true;
    search(false);
  });
  moreUsers.addEventListener("click", () => search(true));

  // ------------------------------------------------------------ one user

  const detail = h("div", { "data-testid": "admin-user", hidden: "" }, []);
  /** @type {string | null} */
  let openId = null;

  /** @param {string} id */
  async function openUser(id) {
    openId = id;
    try {
      /** @type {{ user: AdminUser, keys: KeySummary[] }} */
      const { user, keys } = await api(`admin/users/${encodeURIComponent(id)}`);
      if (openId !== id) return;
      renderUser(user, keys);
    } catch (err) {
      showError(err);
    }
  }

  /** @param {AdminUser} user @param {KeySummary[]} keys */
  function renderUser(user, keys) {
    const parts = [
      h("h3", { tabindex: "-1" }, [user.email]),
      h("p", {}, [
        `${user.name ? `${user.name}, ` : ""}role ${user.role}, ${user.is_active ? "active" : "deactivated"}; capabilities: `,
        user.role === "admin" ? "all (admin)" : user.capabilities.join(", ") || "none",
      ]),
    ];

    if (can("users.manage") || can("capabilities.grant")) {
      const role = h(
        "select",
        { id: "admin-role" },
        ROLES.map((r) => h("option", r === user.role ? { value: r, selected: "" } : { value: r }, [r])),
      );
      const boxes = Object.entries(CAPABILITIES).map(([name, what]) =>
        h("label", { class: "check" }, [
          h("input", {
            type: "checkbox",
            name: "capability",
            value: name,
            ...(user.capabilities.includes(name) ? { checked: "" } : {}),
          }),
          h("span", {}, [h("code", {}, [name]), ` ${what}`]),
        ]),
      );
      const form = h("form", { class: "create-form" }, [
        ...(can("users.manage")
          ? [h("div", { class: "field" }, [h("label", { for: "admin-role" }, ["Role"]), role])]
          : []),
        ...(can("capabilities.grant")
          ? [h("fieldset", { class: "field" }, [h("legend", {}, ["Capabilities"]), ...boxes])]
          : []),
        h("div", { class: "actions" }, [h("button", { type: "submit", class: "button primary" }, ["Save changes"])]),
      ]);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        /** @type {{ role?: string, capabilities?: string[] }} */
        const body = {};
        const chosen = /** @type {HTMLSelectElement} */ (role).value;
        if (can("users.manage") && chosen !== user.role) body.role = chosen;
        if (can("capabilities.grant")) {
          body.capabilities = [...form.querySelectorAll("input[name=capability]:checked")].map(
            (i) => /** @type {HTMLInputElement} */ (i).value,
          );
        }
        if (!body.role && !body.capabilities) return;
        try {
          await api(`admin/users/${encodeURIComponent(user.id)}`, { method: "PATCH", body });
          say(`Saved ${user.email}.`);
          await openUser(user.id);
        } catch (err) {
          showError(err);
        }
      });
      parts.push(form);
    }

    if (can("users.manage")) {
      const verb = user.is_active ? "deactivate" : "reactivate";
      parts.push(
        h("div", { class: "actions" }, [
          button(user.is_active ? "Deactivate" : "Reactivate", user.is_active ? "danger" : "secondary", async () => {
            if (
              user.is_active &&
              !confirm(`Deactivate ${user.email}? Every session of theirs ends now and their keys stop working.`)
            )
              return;
            try {
              await api(`admin/users/${encodeURIComponent(user.id)}/${verb}`, { method: "POST" });
              say(`${user.email} ${user.is_active ? "deactivated" : "reactivated"}.`);
              await openUser(user.id);
            } catch (err) {
              showError(err);
            }
          }),
        ]),
      );
    }

    parts.push(h("h3", {}, ["Keys"]));
    parts.push(
      keys.length === 0
        ? h("p", { class: "muted" }, ["No keys."])
        : h("div", { class: "table-wrap" }, [keyTable(keys, user.id)]),
    );
    detail.replaceChildren(...parts);
    detail.hidden = false;
  }

  /** @param {KeySummary[]} keys @param {string} userId */
  function keyTable(keys, userId) {
    const now = Date.now();
    return h("table", { class: "keys", "data-testid": "admin-keys" }, [
      h("thead", {}, [
        h(
          "tr",
          {},
          ["Name", "Key", "Scopes", "Last used", "Status", ""].map((t) => h("th", { scope: "col" }, [t])),
        ),
      ]),
      h(
        "tbody",
        {},
        keys.map((k) => {
          const live = !k.revoked_at || Date.parse(k.revoked_at) > now;
          return h("tr", { "data-key-id": k.id }, [
            h("th", { scope: "row" }, [k.name]),
            h("td", {}, [h("code", {}, [`${k.start}…`])]),
            h("td", {}, [k.scopes.join(", ") || "none"]),
            h("td", {}, [formatOptionalDate(k.last_used_at, "Never")]),
            h("td", {}, [live ? "Active" : "Revoked"]),
            h(
              "td",
              { class: "row-actions" },
              live && can("keys.revoke_any")
                ? [
                    button("Revoke", "danger-outline small", () => revoke(k.id, userId), {
                      "aria-label": `Revoke key ${k.name}`,
                    }),
                  ]
                : [],
            ),
          ]);
        }),
      ),
    ]);
  }

  /** @param {string} keyId @param {string | null} userId */
  async function revoke(keyId, userId) {
    try {
      await api(`admin/keys/${encodeURIComponent(keyId)}`, { method: "DELETE" });
      say("Key revoked.");
      if (userId) await openUser(userId);
    } catch (err) {
      showError(err);
    }
  }

  // A key revoker who cannot look users up revokes by key id.
  const keyId = h("input", { id: "admin-key-id", autocomplete: "off", pattern: "[0-9a-fA-F-]{36}", required: "" });
  const revokeById = h("form", { class: "create-form" }, [
    h("div", { class: "field" }, [h("label", { for: "admin-key-id" }, ["Revoke a key by its id"]), keyId]),
    h("div", { class: "actions" }, [h("button", { type: "submit", class: "button danger" }, ["Revoke key"])]),
  ]);
  revokeById.addEventListener("submit", (event) => {
    event.preventDefault();
    revoke(/** @type {HTMLInputElement} */ (keyId).value.trim(), null);
  });

  // ------------------------------------------------------------ audit log

  const action = h("input", { id: "audit-action", autocomplete: "off", placeholder: "e.g. sign_in, key.revoked" });
  const outcome = h("select", { id: "audit-outcome" }, [
    h("option", { value: "" }, ["any"]),
    h("option", { value: "success" }, ["success"]),
    h("option", { value: "failure" }, ["failure"]),
  ]);
  const auditForm = h("form", { class: "create-form" }, [
    h("div", { class: "field" }, [h("label", { for: "audit-action" }, ["Event"]), action]),
    h("div", { class: "field" }, [h("label", { for: "audit-outcome" }, ["Outcome"]), outcome]),
    h("div", { class: "actions" }, [h("button", { type: "submit", class: "button primary" }, ["Show events"])]),
  ]);
  const auditList = h("div", { class: "table-wrap", "data-testid": "admin-audit" }, []);
  const moreEvents = h("button", { type: "button", class: "button secondary", hidden: "" }, ["More events"]);
  /** @type {AuditEvent[]} */
  let events = [];
  /** @type {string | null} */
  let eventsCursor = null;

  /** @param {boolean} append */
  async function loadAudit(append) {
    const params = new URLSearchParams({ limit: "25" });
    const a = /** @type {HTMLInputElement} */ (action).value.trim();
    const o = /** @type {HTMLSelectElement} */ (outcome).value;
    if (a) params.set("action", a);
    if (o) params.set("outcome", o);
    if (append && eventsCursor) params.set("cursor", eventsCursor);
    try {
      /** @type {{ events: AuditEvent[], next_cursor: string | null }} */
      const page = await api(`admin/audit?${params}`);
      events = append ? [...events, ...page.events] : page.events;
      eventsCursor = page.next_cursor;
      moreEvents.hidden = eventsCursor === null;
      auditList.replaceChildren(
        events.length ? eventTable(events, { withUsers: true }) : h("p", { class: "muted" }, ["No events."]),
      );
    } catch (err) {
      showError(err);
    }
  }
  auditForm.addEventListener("submit", (event) => {
    event.preventDefault();
    loadAudit(false);
  });
  moreEvents.addEventListener("click", () => loadAudit(true));

  // ------------------------------------------------------------ organizations

  const orgQuery = h("input", { id: "admin-org-query", type: "search", maxlength: "200", autocomplete: "off" });
  const orgForm = h("form", { class: "create-form", role: "search" }, [
    h("div", { class: "field" }, [h("label", { for: "admin-org-query" }, ["Find an organization"]), orgQuery]),
    h("div", { class: "actions" }, [h("button", { type: "submit", class: "button primary" }, ["Show organizations"])]),
  ]);
  const orgList = h("div", { class: "table-wrap", "data-testid": "admin-orgs" }, []);

  /**
   * @typedef {{ id: string, slug: string, name: string, created_at: string, deactivated_at: string | null,
   *   members: number, owners: string[] }} AdminOrg
   */

  async function loadOrgs() {
    const q = /** @type {HTMLInputElement} */ (orgQuery).value.trim();
    try {
      /** @type {{ orgs: AdminOrg[] }} */
      const { orgs } = await api(`admin/orgs${q ? `?query=${encodeURIComponent(q)}` : ""}`);
      orgList.replaceChildren(orgs.length ? orgTable(orgs) : h("p", { class: "muted" }, ["No organization matches."]));
    } catch (err) {
      showError(err);
    }
  }

  /** @param {AdminOrg[]} orgs */
  function orgTable(orgs) {
    return h("table", { class: "keys" }, [
      h("thead", {}, [
        h(
          "tr",
          {},
          ["Organization", "Owners", "Members", "Status", ""].map((t) => h("th", { scope: "col" }, [t])),
        ),
      ]),
      h(
        "tbody",
        {},
        orgs.map((org) => {
          const active = org.deactivated_at === null;
          const change = async () => {
            try {
              await api(`admin/orgs/${org.id}/${active ? "deactivate" : "reactivate"}`, { method: "POST" });
              say(`${org.name} is ${active ? "deactivated" : "active again"}.`);
              await loadOrgs();
            } catch (err) {
              showError(err);
            }
          };
          return h("tr", { "data-org": org.slug }, [
            h("th", { scope: "row", "data-label": "Organization" }, [`${org.name} (${org.slug})`]),
            h("td", { "data-label": "Owners" }, [org.owners.join(", ")]),
            h("td", { "data-label": "Members" }, [String(org.members)]),
            h("td", { "data-label": "Status" }, [
              h("span", { class: `status status-${active ? "active" : "revoked"}` }, [
                active ? "active" : "deactivated",
              ]),
            ]),
            h(
              "td",
              {},
              can("users.manage")
                ? [button(active ? "Deactivate" : "Reactivate", active ? "danger" : "secondary", change)]
                : [],
            ),
          ]);
        }),
      ),
    ]);
  }
  orgForm.addEventListener("submit", (event) => {
    event.preventDefault();
    loadOrgs();
  });

  // ------------------------------------------------------------ showing the page

  async function show() {
    try {
      /** @type {{ capabilities: string[] }} */
      const me = await api("admin/me");
      held = me.capabilities;
    } catch {
      held = [];
    }
    if (held.length === 0) {
      root.hidden = true;
      return;
    }
    powers.textContent = `Your admin capabilities: ${held.join(", ")}.`;
    const parts = [heading, powers, message];
    if (can("users.read")) parts.push(searchForm, results, h("div", { class: "actions" }, [moreUsers]), detail);
    else if (can("keys.revoke_any")) parts.push(revokeById);
    if (can("users.read")) parts.push(h("h3", {}, ["Organizations"]), orgForm, orgList);
    if (can("audit.read"))
      parts.push(h("h3", {}, ["Audit log"]), auditForm, auditList, h("div", { class: "actions" }, [moreEvents]));
    root.replaceChildren(...parts);
    root.hidden = false;
    if (can("users.read")) search(false);
    if (can("users.read")) loadOrgs();
    if (can("audit.read")) loadAudit(false);
  }

  document.addEventListener("keygate:signed-in", () => show());
  document.addEventListener("keygate:signed-out", () => {
    held = [];
    openId = null;
    detail.hidden = true;
    root.hidden = true;
  });
}
