// @ts-check
// A generated avatar (initials on a colour picked from the account id), as a
// data: URL so the dashboard shows a picture without reaching any other server.
import { escapeHtml } from "./login-page.mjs";

const COLOURS = ["#1d4ed8", "#047857", "#7c3aed", "#b45309", "#be123c", "#0f766e"];

/** @param {string} accountId @param {string} name */
export function avatarDataUrl(accountId, name) {
  const initials =
    name
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((word) => word[0].toUpperCase())
      .join("") || "?";
  let sum = 0;
  for (const ch of accountId) sum = (sum + ch.charCodeAt(0)) % 997;
  const colour = COLOURS[sum % COLOURS.length];
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">` +
    `<rect width="96" height="96" rx="48" fill="${colour}"/>` +
    `<text x="48" y="60" font-family="system-ui, sans-serif" font-size="38" font-weight="600" fill="#fff" text-anchor="middle">${escapeHtml(initials)}</text>` +
    `</svg>`;
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`;
}
