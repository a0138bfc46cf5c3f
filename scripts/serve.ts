/**
 * The local edge server (Deno), used by `npm start` and the tests: every
 * function at /functions/v1/<name>/..., as on Supabase, and the dashboard
 * (the static files of web/) at /. Each function's entry file is imported as
 * is; its default export's `fetch` handles the requests under its name.
 */

import { loadConfig } from "../functions/_shared/config/config.ts";
import { startupNotes } from "../functions/_shared/config/startup-notes.ts";
import { isLoopbackHost } from "../functions/_shared/core/loopback.js";
import { enterLocalRequest, leaveLocalRequest } from "../functions/_shared/http/client-address.ts";

const FUNCTIONS = ["health", "auth", "api-keys", "verify-key", "jobs", "admin", "orgs"];
const root = new URL("../", import.meta.url);
const webRoot = new URL("web/", root);

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  json: "application/json; charset=utf-8",
};

const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

type Fetch = (req: Request) => Response | Promise<Response>;

/** A configuration error stops the server with its message alone. */
function configurationError(what: string, err: unknown): never {
  console.error(`keygate: ${what}: ${err instanceof Error ? err.message : String(err)}`);
  Deno.exit(1);
}

async function loadFunctions(): Promise<Map<string, Fetch>> {
  const handlers = new Map<string, Fetch>();
  for (const name of FUNCTIONS) {
    const entry = new URL(`functions/${name}/index.ts`, root);
    try {
      await Deno.stat(entry);
    } catch {
      continue; // not built yet
    }
    try {
      const mod = await import(entry.href);
      handlers.set(name, mod.default.fetch);
    } catch (err) {
      // Such as a malformed ALLOWED_REDIRECT_ORIGINS or TRUSTED_PROXIES.
      configurationError(`the ${name} function cannot start`, err);
    }
  }
  return handlers;
}

function errorJson(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

async function serveStatic(pathname: string): Promise<Response> {
  const relative = pathname === "/" ? "index.html" : pathname.slice(1);
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_./-]*$/.test(relative) || relative.includes("..")) {
    return errorJson(404, "not_found", "Nothing here.");
  }
  const ext = relative.split(".").pop() ?? "";
  const type = CONTENT_TYPES[ext];
  if (!type) return errorJson(404, "not_found", "Nothing here.");
  try {
    const body = await Deno.readFile(new URL(relative, webRoot));
    return new Response(body, { headers: { "content-type": type, ...PAGE_HEADERS } });
  } catch {
    return errorJson(404, "not_found", "Nothing here.");
  }
}

const handlers = await loadFunctions();
try {
  // The functions loaded this configuration already; this copy is for what the server says about it.
  for (const note of startupNotes(loadConfig(Deno.env.toObject()))) console.log(note);
} catch (err) {
  configurationError("the configuration is not valid", err);
}
const hostname = Deno.env.get("HOST")?.trim() || "127.0.0.1";
const port = Number(Deno.env.get("PORT") ?? "54321");

// Development mode relaxes SESSION_SECRET and may come with the development
// sign-in: it never listens beyond loopback.
if (Deno.env.get("KEYGATE_ENV") === "development" && !isLoopbackHost(hostname)) {
  console.error(`HOST=${hostname} is not a loopback address, and KEYGATE_ENV=development: refusing to listen on it.`);
  Deno.exit(1);
}

/** The path of an absolute request URL, without parsing all of it (this runs on every request). */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const end = url.search(/[?#]/);
  return end === -1 ? url.slice(start) : url.slice(start, end);
}

const FUNCTION_PATH = /^\/functions\/v1\/([a-z0-9-]+)(?:\/|$)/;

/** Not async: a function that answers synchronously (verify-key's hot path) is passed through without a promise. */
function route(req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response | Promise<Response> {
  const pathname = pathOf(req.url);
  const match = FUNCTION_PATH.exec(pathname);
  if (match) {
    const handler = handlers.get(match[1]);
    if (!handler) return errorJson(404, "not_found", `No function named ${match[1]}.`);
    // Who the client is, vouched for by the TCP peer (client-address.ts), for the limits and the audit log.
    enterLocalRequest(req, info);
    let answer: Response | Promise<Response> | undefined;
    try {
      answer = handler(req);
      return answer;
    } finally {
      leaveLocalRequest(answer instanceof Promise ? req : null);
    }
  }
  if (req.method !== "GET" && req.method !== "HEAD") return errorJson(405, "method_not_allowed", "Only GET here.");
  return serveStatic(pathname);
}

// The dashboard on a second origin (another site to a browser), when DASHBOARD_PORT is set. Bound before
// the functions, so that a port in use stops the server before it says it is listening.
const dashboardPort = Deno.env.get("DASHBOARD_PORT");
if (dashboardPort) {
  const { serveDashboardOrigin } = await import("./dashboard-origin.ts");
  const functionsUrl = `${(Deno.env.get("PUBLIC_URL") ?? `http://${hostname}:${port}`).replace(/\/+$/, "")}/functions/v1`;
  try {
    serveDashboardOrigin({ hostname, port: Number(dashboardPort), functionsUrl, serveStatic });
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      console.error(
        `DASHBOARD_PORT ${dashboardPort} on ${hostname} is already in use. Stop what uses it, or choose another.`,
      );
      Deno.exit(1);
    }
    throw err;
  }
}

const internalError = () => errorJson(500, "internal_error", "Something went wrong on our side.");

try {
  Deno.serve(
    {
      hostname,
      port,
      onListen: (addr) => {
        const bound = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
        console.log(
          `Keygate listening on http://${bound}:${addr.port} (functions: ${[...handlers.keys()].join(", ")})`,
        );
      },
    },
    (req, info) => {
      try {
        const res = route(req, info);
        return res instanceof Promise ? res.catch(internalError) : res;
      } catch {
        return internalError();
      }
    },
  );
} catch (err) {
  if (err instanceof Deno.errors.AddrInUse) {
    console.error(`Port ${port} on ${hostname} is already in use. Stop what uses it, or set PORT to another port.`);
    Deno.exit(1);
  }
  throw err;
}
