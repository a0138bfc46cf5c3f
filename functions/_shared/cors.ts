/**
 * CORS for the routes a browser uses (`auth`, `api-keys`): only the
 * dashboard's allowed origins get credentialed cross-origin access. Routes
 * that take API keys do not use this unless ALLOW_BROWSER_KEYS=true.
 */
const ALLOWED_HEADERS = "authorization, content-type, x-api-key, x-client-info, apikey";

export function corsHeaders(req: Request, allowedOrigins: readonly string[], methods: string): Record<string, string> {
  const origin = req.headers.get("origin");
  if (!origin || !allowedOrigins.includes(origin)) return { vary: "Origin" };
  return {
    "access-control-allow-origin": origin,
    "access-control-allow-credentials": "true",
    "access-control-allow-methods": methods,
    "access-control-allow-headers": ALLOWED_HEADERS,
    "access-control-max-age": "600",
    vary: "Origin",
  };
}

/**
 * Answers preflight requests and adds CORS headers to every response of
 * `handler` for allowed origins. A preflight from any other origin gets 204
 * without CORS headers, which the browser treats as a refusal.
 */
export function withCors(
  allowedOrigins: readonly string[],
  methods: string,
  handler: (req: Request) => Promise<Response>,
): (req: Request) => Promise<Response> {
  return async (req) => {
    const headers = corsHeaders(req, allowedOrigins, methods);
    if (req.method === "OPTIONS" && req.headers.has("access-control-request-method")) {
      return new Response(null, { status: 204, headers });
    }
    const res = await handler(req);
    // Copy rather than mutate: some responses (Response.redirect) have immutable headers.
    const merged = new Headers(res.headers);
    for (const [name, value] of Object.entries(headers)) merged.set(name, value);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: merged });
  };
}
