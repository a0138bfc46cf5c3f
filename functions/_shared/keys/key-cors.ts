/**
 * CORS for key-authenticated routes. API keys are for servers, so by default
 * these routes grant browsers nothing: a preflight is answered 204 without
 * CORS headers (the browser refuses) and responses carry none. With
 * ALLOW_BROWSER_KEYS=true any origin may call them without credentials (the
 * key is in a header, never a cookie): the request's Origin is reflected,
 * with the same allowed request headers as the browser routes (cors.ts).
 */
import { ALLOWED_HEADERS, isPreflight, withHeaders } from "../http/cors.ts";

export function withKeyCors(
  allowBrowserKeys: boolean,
  methods: string,
  handler: (req: Request) => Response | Promise<Response>,
): (req: Request) => Response | Promise<Response> {
  if (!allowBrowserKeys) {
    return (req) => (isPreflight(req) ? new Response(null, { status: 204 }) : handler(req));
  }
  return async (req) => {
    const origin = req.headers.get("origin");
    const cors: Record<string, string> = origin
      ? {
          "access-control-allow-origin": origin,
          "access-control-allow-methods": methods,
          "access-control-allow-headers": ALLOWED_HEADERS,
          "access-control-max-age": "600",
          vary: "Origin",
        }
      : { vary: "Origin" };
    if (isPreflight(req)) return new Response(null, { status: 204, headers: cors });
    return withHeaders(await handler(req), cors);
  };
}
