// @ts-check
/**
 * "Organizations": the teams the signed-in user belongs to (GET /orgs),
 * creating one, and for each its members and, for owners and admins,
 * inviting by email (the link is shown once) and the pending invitations.
 * Opening the dashboard with `#invitation=<token>` (the link an invitation
 * gives) accepts it once signed in, even after a sign-in on the way. Built
 * with DOM APIs only: names and emails are people's own text.
 */
import { eventTable } from "./activity.js";
import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { describeError, formatDateTime } from "./words.js";

/** @typedef {{ id: string, slug: string, name: string, role: "owner" | "admin" | "member", deactivated_at: string | null }} Org */
/** @typedef {{ user_id: string, email: string, name: string | null, role: string, created_at: string }} Member */
/** @typedef {{ id: string, email: string, role: string, created_at: string, expires_at: string }} Invitation */

const INVITATION = /^#invitation=([A-Za-z0-9_-]{43})$/;
const PENDING = "keygate.invitation";

const section = document.getElementById("orgs-section");

if (section) {
  const title = h("h2", { id: "orgs-title" }, ["Organizations"]);
  const note = h("p", { class: "muted" }, [
    "Teams: an organization has owners, admins and members, and invites people by email.",
  ]);
  const status = h("p", { class: "muted", role: "status", "data-testid": "orgs-status" }, []);
  const list = h("div", { "data-testid": "orgs" }, []);
  const nameInput = /** @type {HTMLInputElement} */ (
    h("input", { id: "org-name", name: "name", required: "", maxlength: "100", autocomplete: "off" })
  );
  const createForm = h("form", { class: "inline-form" }, [
    h("div", { class: "field" }, [h("label", { for: "org-name" }, ["New organization"]), nameInput]),
    h("div", { class: "actions" }, [h("button", { type: "submit", class: "button primary" }, ["Create organization"])]),
  ]);
  section.replaceChildren(title, note, status, list, createForm);

  /** @param {unknown} err */
  const say = (err) => {
    status.textContent = err instanceof ApiError ? describeError(err.code, err.message) : describeError(undefined);
  };

  /** The members and (owners, admins) invitations of `org`, in `box`. */
  async function details(/** @type {Org} */ org, /** @type {HTMLElement} */ box) {
    const manages = org.role !== "member" && !org.deactivated_at;
    // One round trip's wait for all three: members, and for owners and admins invitations and changes.
    /** @type {[{ members: Member[] }, { invitations: Invitation[] } | null, { events: import("./activity.js").AuditEvent[] } | null]} */
    const [{ members }, pendingPage, auditPage] = await Promise.all([
      api(`orgs/${org.id}/members`),
      manages ? api(`orgs/${org.id}/invitations`) : null,
      manages ? api(`orgs/${org.id}/audit?limit=10`) : null,
    ]);
    /**
     * A button that runs `change`, then shows the organization again (or the list, when `reload`).
     * @param {string} text @param {string} label @param {() => Promise<unknown>} change @param {boolean} [reload]
     */
    const action = (text, label, change, reload = false) => {
      const button = h("button", { type: "button", class: "button link", "aria-label": label }, [text]);
      button.addEventListener("click", async () => {
        try {
          await change();
          if (reload) {
            await load();
            document.dispatchEvent(new Event("keygate:orgs-changed")); // app.js
          } else await details(org, box);
        } catch (err) {
          say(err);
        }
      });
      return button;
    };
    // Owners remove anyone, admins members only; the server decides, the page only offers what fits.
    const mayRemove = (/** @type {Member} */ m) => manages && (org.role === "owner" || m.role === "member");
    const rows = members.map((m) =>
      h("li", { "data-member": m.email }, [
        `${m.name ?? m.email} (${m.email}): ${m.role} `,
        ...(mayRemove(m)
          ? [
              action("Remove", `Remove ${m.email}`, () =>
                api(`orgs/${org.id}/members/${m.user_id}`, { method: "DELETE" }),
              ),
            ]
          : []),
      ]),
    );
    const leave = action(
      "Leave this organization",
      `Leave ${org.name}`,
      () => api(`orgs/${org.id}/leave`, { method: "POST" }),
      true,
    );
    const parts = [h("h4", {}, ["Members"]), h("ul", { "data-testid": "org-members" }, rows), leave];
    if (pendingPage && auditPage) {
      const pending = pendingPage.invitations.map((inv) => {
        const revoke = h("button", { type: "button", class: "button link" }, ["Revoke"]);
        revoke.addEventListener("click", async () => {
          try {
            await api(`orgs/${org.id}/invitations/${inv.id}`, { method: "DELETE" });
            await details(org, box);
          } catch (err) {
            say(err);
          }
        });
        return h("li", { "data-invitation": inv.email }, [
          `${inv.email} as ${inv.role}, until ${formatDateTime(inv.expires_at)} `,
          revoke,
        ]);
      });
      const email = /** @type {HTMLInputElement} */ (
        h("input", { type: "email", id: `invite-${org.id}`, required: "", autocomplete: "off" })
      );
      const role = h("select", { "aria-label": "Role" }, [
        h("option", { value: "member" }, ["member"]),
        h("option", { value: "admin" }, ["admin"]),
      ]);
      const link = h("p", { class: "warning", hidden: "", "data-testid": "invitation-link" }, []);
      const form = h("form", { class: "inline-form" }, [
        h("label", { for: `invite-${org.id}` }, ["Invite by email"]),
        email,
        role,
        h("button", { type: "submit", class: "button secondary" }, ["Invite"]),
      ]);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          const created = await api(`orgs/${org.id}/invitations`, {
            method: "POST",
            body: { email: email.value, role: /** @type {HTMLSelectElement} */ (role).value },
          });
          await details(org, box);
          // Shown once: the server keeps only a hash of the token.
          const shown = box.querySelector("[data-testid=invitation-link]");
          if (shown) {
            shown.textContent = `Send this link to ${email.value} (shown only now): ${created.url}`;
            shown.removeAttribute("hidden");
          }
        } catch (err) {
          say(err);
        }
      });
      parts.push(
        h("h4", {}, ["Pending invitations"]),
        h("ul", { "data-testid": "org-invitations" }, pending),
        form,
        link,
        h("h4", {}, ["Recent changes"]),
        h("div", { class: "table-wrap", "data-testid": "org-audit" }, [
          eventTable(auditPage.events, { withUsers: true }),
        ]),
      );
    }
    box.replaceChildren(...parts);
  }

  async function load() {
    try {
      /** @type {{ orgs: Org[] }} */
      const { orgs } = await api("orgs");
      status.textContent = orgs.length ? "" : "You belong to no organization yet.";
      list.replaceChildren(
        ...orgs.map((org) => {
          const box = h("div", { class: "org-details" }, []);
          const item = h("details", { "data-org": org.slug }, [
            h("summary", {}, [`${org.name} (${org.slug}): ${org.role}${org.deactivated_at ? ", deactivated" : ""}`]),
            box,
          ]);
          item.addEventListener("toggle", () => {
            if (/** @type {HTMLDetailsElement} */ (item).open) details(org, box).catch(say);
          });
          return item;
        }),
      );
    } catch (err) {
      say(err);
    }
  }

  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const org = await api("orgs", { method: "POST", body: { name: nameInput.value } });
      nameInput.value = "";
      await load();
      document.dispatchEvent(new Event("keygate:orgs-changed")); // app.js: the key owner switcher
      status.textContent = `Created ${org.name}.`;
    } catch (err) {
      say(err);
    }
  });

  // An invitation link's token leaves the address at once; it waits in this tab's
  // storage through a sign-in (whose redirects drop the fragment) and is used once.
  const match = INVITATION.exec(location.hash);
  if (match) {
    sessionStorage.setItem(PENDING, match[1]);
    history.replaceState(null, "", `${location.pathname}${location.search}`);
  }

  /** Accepts the invitation this tab was opened with, once signed in. */
  async function acceptPending() {
    const token = sessionStorage.getItem(PENDING);
    if (!token) return;
    sessionStorage.removeItem(PENDING);
    try {
      const joined = await api("orgs/invitations/accept", { method: "POST", body: { token } });
      await load();
      document.dispatchEvent(new Event("keygate:orgs-changed")); // app.js
      status.textContent = `You joined an organization as ${joined.role}.`;
    } catch (err) {
      say(err);
    }
  }

  document.addEventListener("keygate:signed-in", async () => {
    section.hidden = false;
    await load();
    await acceptPending();
  });
  document.addEventListener("keygate:signed-out", () => {
    section.hidden = true;
    list.replaceChildren();
    status.textContent = "";
  });
}
