/**
 * CSRF defence for cookie-authenticated requests: a state-changing request
 * that rides on a session cookie must come from an allowed origin (the
 * dashboard's). Requests authenticated by a bearer token are not at risk:
 * a browser never attaches one by itself.
 */
import { KeygateError } from "../errors.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function assertAllowedOrigin(
  req: Request,
  via: "session" | "bearer",
  allowedOrigins: readonly string[],
): void {
  if (via !== "session" || SAFE_METHODS.has(req.method)) return;
  const origin = req.headers.get("origin");
  if (origin !== null && allowedOrigins.includes(origin)) return;
  throw new KeygateError(
    "csrf_origin_mismatch",
    "This request must come from the dashboard (its Origin is missing or not allowed).",
  );
}
