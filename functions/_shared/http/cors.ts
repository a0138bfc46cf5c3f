/**
 * CORS for the routes a browser uses (`auth`, `api-keys`, `admin`, the jobs
 * summary): only the dashboard's allowed origins get credentialed
 * cross-origin access (`browserCors`). Routes that take API keys use
 * keys/key-cors.ts, which shares the header list and `isPreflight` /
 * `withHeaders` from here. A router applies a `CorsPolicy` per route
 * (router.ts).
 */

/**
 * The request headers a browser may send, on every route that grants CORS: the ones supabase-js sends
 * (`authorization`, `apikey`, `content-type`, `x-client-info`, `x-retry-count`;
 * `x-region` from `functions.invoke` with a region; W3C trace context
 * `traceparent`, `tracestate`, `baggage` when tracing is on), as Supabase's
 * CORS guide lists them, plus `x-api-key`.
 */
export const ALLOWED_HEADERS = [
  "authorization",
  "apikey",
  "content-type",
  "x-client-info",
  "x-region",
  "x-retry-count",
  "traceparent",
  "tracestate",
  "baggage",
  "x-api-key",
].join(", ");

/** A CORS preflight: OPTIONS with the header only browsers send on one. */
export function isPreflight(req: Request): boolean {
  return req.method === "OPTIONS" && req.headers.has("access-control-request-method");
}

/** `res` with `headers` set on it. Copies rather than mutates: some responses (Response.redirect) have immutable headers. */
export function withHeaders(res: Response, headers: Record<string, string>): Response {
  const merged = new Headers(res.headers);
  for (const [name, value] of Object.entries(headers)) merged.set(name, value);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: merged });
}

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

/** Who may call a route from a browser, and how its answers say so. */
export interface CorsPolicy {
  /** The answer to a preflight for a path whose routes accept `methods` (e.g. "GET, POST, OPTIONS"). */
  preflight(req: Request, methods: string): Response;
  /** Headers added to every answer of such a path. */
  headers(req: Request, methods: string): Record<string, string>;
}

/** No cross-origin access at all: a preflight gets 204 without CORS headers, which a browser treats as a refusal. */
export const NO_CORS: CorsPolicy = {
  preflight: () => new Response(null, { status: 204 }),
  headers: () => ({}),
};

/** Credentialed CORS for `allowedOrigins` only; any other origin gets no CORS headers (and a refused preflight). */
export function browserCors(allowedOrigins: readonly string[]): CorsPolicy {
  return {
    preflight: (req, methods) =>
      new Response(null, { status: 204, headers: corsHeaders(req, allowedOrigins, methods) }),
    headers: (req, methods) => corsHeaders(req, allowedOrigins, methods),
  };
}
