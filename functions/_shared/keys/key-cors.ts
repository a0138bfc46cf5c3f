/**
 * CORS for key-authenticated routes. API keys are for servers, so by default
 * these routes grant browsers nothing: a preflight is answered 204 without
 * CORS headers (the browser refuses) and responses carry none. With
 * ALLOW_BROWSER_KEYS=true any origin may call them without credentials (the
 * key is in a header, never a cookie): the request's Origin is reflected.
 */
const ALLOWED_HEADERS = "authorization, content-type, x-api-key, x-client-info, apikey";

export function withKeyCors(
  allowBrowserKeys: boolean,
  methods: string,
  handler: (req: Request) => Response | Promise<Response>,
): (req: Request) => Response | Promise<Response> {
  const isPreflight = (req: Request) => req.method === "OPTIONS" && req.headers.has("access-control-request-method");
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
    const res = await handler(req);
    const headers = new Headers(res.headers);
    for (const [name, value] of Object.entries(cors)) headers.set(name, value);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  };
}
