// @ts-check
/** The key list's rows: name, start, scopes, dates, status and the actions that fit the status. */
import { h } from "./dom.js";
import { formatOptionalDate, keyStatus, statusLabel } from "./words.js";

/** @typedef {import("./words.js").KeySummary} KeySummary */

/**
 * @param {string} label
 * @param {(Node | string)[]} children
 * @param {Record<string, string>} [attrs]
 */
function cell(label, children, attrs = {}) {
  return h("td", { "data-label": label, ...attrs }, children);
}

/** @param {string | null} iso @param {string} whenNull */
function timeCell(iso, whenNull) {
  return iso ? h("time", { datetime: iso }, [formatOptionalDate(iso, whenNull)]) : whenNull;
}

/**
 * One row of the key list; on a phone the stylesheet turns it into a card
 * labelled by each cell's data-label.
 * @param {KeySummary} key
 * @param {number} now
 * @param {{ onRotate: (key: KeySummary) => void, onRevoke: (key: KeySummary) => void }} actions
 */
export function keyRow(key, now, { onRotate, onRevoke }) {
  const status = keyStatus(key, now);
  const actions = [];
  if (status.kind === "active") {
    actions.push(actionButton("Rotate", `Rotate: key ${key.name}`, "secondary", () => onRotate(key)));
  }
  if (status.kind === "active" || status.kind === "rotating") {
    const text = status.kind === "rotating" ? "Revoke now" : "Revoke";
    actions.push(actionButton(text, `${text}: key ${key.name}`, "danger-outline", () => onRevoke(key)));
  }
  return h("tr", { "data-key-id": key.id, "data-status": status.kind }, [
    h("th", { scope: "row", "data-label": "Name" }, [
      key.name,
      // An organization's key whose maker has left: it still works, and an owner or admin should review it.
      ...(key.creator_is_member === false ? [h("span", { class: "muted small" }, [" made by a former member"])] : []),
    ]),
    cell("Key", [h("code", {}, [`${key.start}…`])]),
    cell(
      "Scopes",
      key.scopes.length
        ? key.scopes.map((s) => h("span", { class: "scope" }, [s]))
        : [h("span", { class: "muted" }, ["none"])],
    ),
    cell("Created", [timeCell(key.created_at, "")]),
    cell("Last used", [timeCell(key.last_used_at, "Never")]),
    cell("Expires", [timeCell(key.expires_at, "Never")]),
    cell("Status", [h("span", { class: `status status-${status.kind}` }, [statusLabel(status)])]),
    cell("Actions", actions, { class: "row-actions" }),
  ]);
}

/**
 * @param {string} text
 * @param {string} label accessible name: the visible text, then which key
 * @param {string} style
 * @param {() => void} onClick
 */
function actionButton(text, label, style, onClick) {
  const button = h("button", { type: "button", class: `button small ${style}`, "aria-label": label }, [text]);
  button.addEventListener("click", onClick);
  return button;
}
