// @ts-check
/**
 * The dashboard's only way to the server: same-origin JSON calls to the
 * functions under /functions/v1, carrying the session cookie. Failures become
 * an ApiError with the server's error code (or "network_error").
 */

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server could not be reached
   * @param {string} code the server's snake_case error code
   * @param {string} message the server's message
   */
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/**
 * @param {string} path below /functions/v1/, e.g. "api-keys"
 * @param {{ method?: string, body?: unknown }} [options]
 * @returns {Promise<any>} the parsed JSON body, or null for 204
 */
export async function api(path, { method = "GET", body } = {}) {
  /** @type {Response} */
  let res;
  try {
    res = await fetch(`/functions/v1/${path}`, {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: body === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network_error", "The server could not be reached.");
  }
  if (res.status === 204) return null;
  /** @type {any} */
  let data = null;
  try {
    data = await res.json();
  } catch {
    // A body that is not JSON (a proxy's error page): judged by the status alone.
  }
  if (!res.ok) {
    const error = data && typeof data === "object" ? data.error : undefined;
    const fallback = res.status === 401 ? "unauthorized" : res.status === 429 ? "rate_limited" : "http_error";
    throw new ApiError(res.status, typeof error?.code === "string" ? error.code : fallback, typeof error?.message === "string" ? error.message : res.statusText);
  }
  return data;
}
