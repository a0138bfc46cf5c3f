// @ts-check
/**
 * The dashboard's only way to the server: JSON calls to the functions. On the
 * functions' own origin they carry the HttpOnly session cookie; from another
 * origin (a dashboard on its own site, see config.js) they carry the bearer
 * session token instead and no cookie. Failures become an ApiError with the
 * server's error code (or "network_error").
 */
import { FUNCTIONS_URL } from "./config.js";
import { sessionToken } from "./session-token.js";

/** The functions' base URL without a trailing slash, e.g. "http://127.0.0.1:54321/functions/v1". */
export const functionsBase = new URL(FUNCTIONS_URL || "/functions/v1", location.href).href.replace(/\/+$/, "");

/** True when the functions live on another origin: sign-in then ends in a bearer token, not the cookie. */
export const crossOrigin = new URL(functionsBase).origin !== location.origin;

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
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const token = crossOrigin ? sessionToken.get() : null;
  if (token) headers.authorization = `Bearer ${token}`;
  /** @type {Response} */
  let res;
  try {
    res = await fetch(`${functionsBase}/${path}`, {
      method,
      credentials: crossOrigin ? "omit" : "same-origin",
      cache: "no-store",
      headers,
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
    throw new ApiError(
      res.status,
      typeof error?.code === "string" ? error.code : fallback,
      typeof error?.message === "string" ? error.message : res.statusText,
    );
  }
  return data;
}
