/**
 * CSRF defence for cookie-authenticated unsafe requests: the request must
 * come from an allowed origin. Browsers send `Origin` on every POST, PUT,
 * PATCH and DELETE; when it is missing, `Referer`'s origin stands in, and a
 * request with neither is refused.
 */
import { KeygateError } from "../errors.ts";

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
