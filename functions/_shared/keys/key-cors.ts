/**
 * CORS for key-authenticated routes. API keys are for servers, so by default
 * these routes grant browsers nothing: a preflight is answered 204 without
 * CORS headers (the browser refuses) and responses carry none. With
 * ALLOW_BROWSER_KEYS=true any origin may call them without credentials (the
 * key is in a header, never a cookie): the request's Origin is reflected,
 * with the same allowed request headers as the browser routes (cors.ts).
 *
 * `keyCors` is the policy for a router's key routes; `withKeyCors` wraps a
 * single handler (verify-key, `withApiKey`) in the same policy.
 */
import { ALLOWED_HEADERS, type CorsPolicy, isPreflight, NO_CORS, withHeaders } from "../http/cors.ts";

function keyCorsHeaders(req: Request, methods: string): Record<string, string> {
  const origin = req.headers.get("origin");
  if (!origin) return { vary: "Origin" };
  return {
    "access-control-allow-origin": origin,
    "access-control-allow-methods": methods,
    "access-control-allow-headers": ALLOWED_HEADERS,
    "access-control-max-age": "600",
    vary: "Origin",
  };
}

const BROWSER_KEYS: CorsPolicy = {
  preflight: (req, methods) => new Response(null, { status: 204, headers: keyCorsHeaders(req, methods) }),
  headers: keyCorsHeaders,
};

export function keyCors(allowBrowserKeys: boolean): CorsPolicy {
  return allowBrowserKeys ? BROWSER_KEYS : NO_CORS;
}

export function withKeyCors(
  allowBrowserKeys: boolean,
  methods: string,
  handler: (req: Request) => Response | Promise<Response>,
): (req: Request) => Response | Promise<Response> {
  if (!allowBrowserKeys) {
    return (req) => (isPreflight(req) ? NO_CORS.preflight(req, methods) : handler(req));
  }
  return async (req) => {
    if (isPreflight(req)) return BROWSER_KEYS.preflight(req, methods);
    return withHeaders(await handler(req), keyCorsHeaders(req, methods));
  };
}
