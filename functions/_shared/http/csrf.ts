/**
 * CSRF defence for cookie-authenticated unsafe requests (auth logout,
 * api-keys POST/DELETE): the request must come from an allowed origin, the
 * dashboard's. Browsers send `Origin` on every POST, PUT, PATCH and DELETE;
 * when it is missing, `Referer`'s origin stands in, and a request with
 * neither is refused. Requests authenticated by a bearer token need no such
 * check: a browser never attaches one by itself.
 */
import { KeygateError } from "../core/errors.ts";

export function assertAllowedOrigin(req: Request, allowedOrigins: readonly string[]): void {
  let origin = req.headers.get("origin");
  if (!origin) {
    const referer = req.headers.get("referer");
    try {
      origin = referer ? new URL(referer).origin : null;
    } catch {
      origin = null;
    }
  }
  if (!origin || !allowedOrigins.includes(origin)) {
    throw new KeygateError("csrf_origin_mismatch", "This request must come from the dashboard's origin.");
  }
}
