// @ts-check
/**
 * The dashboard's Jobs view: how many of the signed-in user's jobs are in
 * each status, and their latest jobs with status, attempts and progress, so
 * the workers' progress shows without curl. Reads GET /jobs/summary (the
 * session, never a key), refreshes every 10 s while the page is visible, and
 * builds every element with DOM APIs: job types, progress and errors are
 * the user's own text and are never parsed as HTML.
 */
import { api } from "./api.js";
import { h } from "./dom.js";
import { describeProgress, formatDateTime } from "./words.js";

/** @typedef {"queued" | "running" | "succeeded" | "failed" | "canceled"} JobStatus */
/**
 * @typedef {{ id: string, type: string, status: JobStatus, attempts: number, max_attempts: number,
 *   progress: unknown, error: string | null, run_at: string, created_at: string, updated_at: string }} JobLine
 */
/** @typedef {{ counts: Record<JobStatus, number>, jobs: JobLine[] }} JobSummary */

export const REFRESH_MS = 10_000;
const STATUSES = /** @type {const} */ (["queued", "running", "succeeded", "failed", "canceled"]);
/** Stops the previous sign-in's refresh timer. */
let stopRefreshing = () => {};
const STATUS_CLASS = {
  queued: "rotating",
  running: "running",
  succeeded: "active",
  failed: "revoked",
  canceled: "expired",
};

/**
 * @param {string} label
 * @param {(Node | string)[]} children
 */
function cell(label, children) {
  return h("td", { "data-label": label }, children);
}

/** @param {JobLine} job */
function jobRow(job) {
  const status = h("span", { class: `status status-${STATUS_CLASS[job.status] ?? "expired"}` }, [job.status]);
  return h("tr", { "data-status": job.status }, [
    h("th", { scope: "row", "data-label": "Type" }, [job.type]),
    cell(
      "Status",
      job.error && job.status !== "succeeded"
        ? [status, h("span", { class: "hint job-error" }, [` ${job.error}`])]
        : [status],
    ),
    cell("Attempts", [`${job.attempts} of ${job.max_attempts}`]),
    cell("Progress", [describeProgress(job.progress)]),
    cell("Created", [h("time", { datetime: job.created_at }, [formatDateTime(job.created_at)])]),
    cell("Updated", [h("time", { datetime: job.updated_at }, [formatDateTime(job.updated_at)])]),
  ]);
}

/**
 * Fills `section` with the Jobs view and keeps it current while it is shown.
 * Call again after a new sign-in; errors go to `onError` (a 401 there signs out).
 * @param {HTMLElement} section
 * @param {(err: unknown) => void} onError
 */
export function showJobs(section, onError) {
  const counts = h("ul", { class: "job-counts", "aria-label": "Jobs by status" });
  const empty = h("p", { class: "muted" }, [
    "No jobs yet. Submit one with a key that has jobs:write; it shows here as your workers take it.",
  ]);
  const body = h("tbody");
  const table = h("table", { class: "keys jobs" }, [
    h("thead", {}, [
      h(
        "tr",
        {},
        ["Type", "Status", "Attempts", "Progress", "Created", "Updated"].map((t) => h("th", { scope: "col" }, [t])),
      ),
    ]),
    body,
  ]);
  const refresh = h("button", { type: "button", class: "button secondary", id: "jobs-refresh" }, ["Refresh jobs"]);
  empty.hidden = true;
  table.hidden = true;
  section.replaceChildren(
    h("div", { class: "jobs-head" }, [h("h2", { id: "jobs-title" }, ["Jobs"]), refresh]),
    h("p", { class: "hint" }, ["Your latest jobs and how many are in each status, refreshed every few seconds."]),
    counts,
    empty,
    h("div", { class: "table-wrap" }, [table]),
  );
  section.hidden = false;

  let request = 0;
  async function load() {
    const mine = ++request;
    try {
      /** @type {JobSummary} */
      const summary = await api("jobs/summary");
      if (mine !== request) return;
      counts.replaceChildren(
        ...STATUSES.map((s) =>
          h("li", { class: "job-count", "data-status": s }, [
            h("strong", {}, [String(summary.counts[s] ?? 0)]),
            ` ${s}`,
          ]),
        ),
      );
      body.replaceChildren(...summary.jobs.map(jobRow));
      table.hidden = summary.jobs.length === 0;
      empty.hidden = summary.jobs.length > 0;
    } catch (err) {
      if (mine === request) onError(err);
    }
  }

  refresh.addEventListener("click", () => load());
  stopRefreshing();
  const timer = setInterval(() => {
    // Stop for good once the view is gone (signed out); skip while the tab is hidden.
    if (!section.isConnected || section.closest("[hidden]")) return clearInterval(timer);
    if (document.visibilityState === "visible") load();
  }, REFRESH_MS);
  stopRefreshing = () => clearInterval(timer);
  load();
}
