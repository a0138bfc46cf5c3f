/**
 * The router every function with more than one route uses: a table of
 * `route(method, path, handler)` read top to bottom, with the same 404, 405
 * (and `Allow`), CORS and error mapping for every function.
 *
 *   const handle = createRouter([
 *     route("GET", "/api-keys", list),
 *     route("DELETE", "/api-keys/:id(uuid)", (req, { id }) => revoke(req, id)),
 *   ], { cors: browserCors(origins) });
 *
 * Paths start with the function's name, as Supabase serves it (`/api-keys/...`
 * hosted, `/functions/v1/api-keys/...` locally: both match). A segment
 * `:name` matches any one segment; `:name(uuid)` only a UUID, so a handler
 * never sends a malformed id to the database (anything else is 404). The
 * handler gets the parameters typed from the path, decoded. Empty segments
 * (a trailing slash) are ignored.
 *
 * No route for the path: 404 `not_found`. A route for the path but not the
 * method: 405 `method_not_allowed` with `Allow` (the path's methods and
 * OPTIONS). A CORS preflight (OPTIONS with `Access-Control-Request-Method`)
 * is answered by the CORS policy of the route the browser asks for (for a
 * path with no route, the router's own policy, so the page can read the
 * 404 that follows), and every answer carries that policy's headers. Whatever a handler throws goes
 * through `toResponse`.
 *
 * `verify-key` does not use it: its single route is the hot path and is
 * answered without a promise (handlers/verify-key/handler.ts).
 */

import { KeygateError } from "../core/errors.ts";
import { type Logger, logError } from "../core/log.ts";
import { isUuid } from "../core/uuid.ts";
import { type CorsPolicy, isPreflight, NO_CORS, withHeaders } from "./cors.ts";
import { methodNotAllowed, notFound, toResponse } from "./response.ts";

export type Method = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";

type Segments<P extends string> = P extends `${infer Head}/${infer Tail}` ? Head | Segments<Tail> : P;
type ParamName<S> = S extends `:${infer Name}(uuid)` ? Name : S extends `:${infer Name}` ? Name : never;

/** The parameters of a path pattern: `"/orgs/:id(uuid)/members/:user(uuid)"` -> `{ id: string; user: string }`. */
export type Params<P extends string> = { [K in ParamName<Segments<P>>]: string };

export type RouteHandler<P extends string, C> = (
  req: Request,
  params: Params<P>,
  ctx: C,
) => Response | Promise<Response>;

type Matcher = { kind: "literal"; text: string } | { kind: "any" | "uuid"; name: string };

export interface Route<C> {
  readonly method: Method;
  readonly path: string;
  readonly cors: CorsPolicy | undefined;
  /** The parameters when `segments` match this route's path, else null. */
  match(segments: readonly string[]): Record<string, string> | null;
  handle(req: Request, params: Record<string, string>, ctx: C): Response | Promise<Response>;
}

function compile(path: string): Matcher[] {
  if (!path.startsWith("/")) throw new Error(`route path ${path} must start with /`);
  return path
    .split("/")
    .filter((s) => s.length > 0)
    .map((segment): Matcher => {
      const param = /^:([a-zA-Z][a-zA-Z0-9_]*)(\(uuid\))?$/.exec(segment);
      if (param) return { kind: param[2] ? "uuid" : "any", name: param[1] };
      if (segment.startsWith(":")) throw new Error(`route path ${path}: bad parameter ${segment}`);
      return { kind: "literal", text: segment };
    });
}

/** One row of a route table. `cors` overrides the router's policy for this route. */
export function route<const P extends string, C = void>(
  method: Method,
  path: P,
  handle: RouteHandler<P, C>,
  options: { cors?: CorsPolicy } = {},
): Route<C> {
  const matchers = compile(path);
  return {
    method,
    path,
    cors: options.cors,
    match(segments) {
      if (segments.length !== matchers.length) return null;
      const params: Record<string, string> = {};
      for (let i = 0; i < matchers.length; i++) {
        const m = matchers[i];
        const segment = segments[i];
        if (m.kind === "literal") {
          if (segment !== m.text) return null;
        } else if (m.kind === "uuid" && !isUuid(segment)) {
          return null;
        } else {
          params[m.name] = segment;
        }
      }
      return params;
    },
    handle: handle as Route<C>["handle"],
  };
}

/**
 * The request path's segments, decoded, from the function's name on:
 * `/functions/v1/api-keys/x` and `/api-keys/x` both give `["api-keys", "x"]`.
 */
export function pathSegments(req: Request): string[] {
  const segments = new URL(req.url).pathname.split("/").filter((s) => s.length > 0);
  const from = segments[0] === "functions" && segments[1] === "v1" ? 2 : 0;
  try {
    return segments.slice(from).map((s) => decodeURIComponent(s));
  } catch {
    throw new KeygateError("bad_request", "The request path is not valid.");
  }
}

export interface RouterOptions {
  /** The CORS policy of every route that names none (default: no cross-origin access). */
  cors?: CorsPolicy;
  log?: Logger;
}

export function createRouter<C = void>(
  routes: readonly Route<C>[],
  { cors = NO_CORS, log = logError }: RouterOptions = {},
): (req: Request, ctx: C) => Promise<Response> {
  if (routes.length === 0) throw new Error("a router needs at least one route");
  const everyMethod = [...new Set(routes.map((r) => r.method)), "OPTIONS"].join(", ");

  return async (req, ctx) => {
    let policy = cors;
    let methods = "OPTIONS";
    try {
      const segments = pathSegments(req);
      const candidates: Array<{ route: Route<C>; params: Record<string, string> }> = [];
      for (const r of routes) {
        const params = r.match(segments);
        if (params) candidates.push({ route: r, params });
      }
      if (candidates.length === 0) {
        // The browser then sends the request itself, and can read its 404.
        if (isPreflight(req)) return cors.preflight(req, everyMethod);
        throw notFound();
      }
      const allowed = [...new Set(candidates.map((c) => c.route.method))];
      methods = [...allowed, "OPTIONS"].join(", ");
      const wanted = isPreflight(req) ? req.headers.get("access-control-request-method")?.toUpperCase() : req.method;
      const chosen = candidates.find((c) => c.route.method === wanted);
      policy = (chosen ?? candidates[0]).route.cors ?? cors;
      if (isPreflight(req)) return policy.preflight(req, methods);
      if (!chosen) throw methodNotAllowed([...allowed, "OPTIONS"]);
      return decorate(await chosen.route.handle(req, chosen.params, ctx), policy.headers(req, methods));
    } catch (err) {
      return decorate(toResponse(err, log), policy.headers(req, methods));
    }
  };
}

/** `res` with `headers` added; the same object when there are none (no copy of the body). */
function decorate(res: Response, headers: Record<string, string>): Response {
  for (const _ in headers) return withHeaders(res, headers);
  return res;
}
