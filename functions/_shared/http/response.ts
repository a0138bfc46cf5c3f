/**
 * Request/response plumbing shared by every function: JSON responses, the
 * single error-to-response mapping, bounded and validated JSON bodies, and the
 * path below a function's name.
 */
import type { z } from "zod";
import { KeygateError } from "../core/errors.ts";
import { type Logger, logError } from "../core/log.ts";
import { inexactJson } from "./exact-json.ts";

export const MAX_BODY_BYTES = 16 * 1024;
/** JSON nested deeper than this is refused before it reaches a handler or the database. */
export const MAX_JSON_DEPTH = 32;

export function json(body: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), { ...init, headers });
}

/**
 * The one place that turns an error into a response. A KeygateError keeps its
 * code and status; anything else is logged by name only and becomes a 500
 * without detail (never a stack, never `e.toString()`).
 */
export function toResponse(err: unknown, log: Logger = logError): Response {
  if (err instanceof KeygateError) {
    return json({ error: { code: err.code, message: err.message } }, { status: err.status, headers: err.headers });
  }
  const code = (err as { code?: unknown })?.code;
  log("unhandled error", {
    name: err instanceof Error ? err.name : typeof err,
    // A SQLSTATE or system error code says what failed and carries no secret.
    ...(typeof code === "string" && /^[A-Z0-9_]{2,32}$/.test(code) ? { code } : {}),
  });
  return json({ error: { code: "internal_error", message: "Something went wrong on our side." } }, { status: 500 });
}

/** Wraps a handler so that every thrown error goes through `toResponse`. */
export function handleErrors(
  handler: (req: Request) => Promise<Response>,
  log: Logger = logError,
): (req: Request) => Promise<Response> {
  return async (req) => {
    try {
      return await handler(req);
    } catch (err) {
      return toResponse(err, log);
    }
  };
}

/**
 * Reads a JSON body of at most 16 KiB and validates it with `schema`.
 * An empty body is treated as `{}` so optional-only bodies may be omitted.
 * With `exact`, a body holding a value that would not be stored as sent (a
 * number no float holds, a repeated key, \u0000: exact-json.ts) is refused
 * with 400 naming it, for routes that store what the client sends.
 */
export async function readJson<T>(req: Request, schema: z.ZodType<T>, options: { exact?: boolean } = {}): Promise<T> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) {
    throw new KeygateError("payload_too_large", "The request body is larger than 16 KiB.");
  }
  const bytes = await readBounded(req);
  let value: unknown = {};
  if (bytes.byteLength > 0) {
    const type = req.headers.get("content-type") ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type.trim())) {
      throw new KeygateError("unsupported_media_type", "Send the body as application/json.");
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      value = JSON.parse(text);
    } catch {
      throw new KeygateError("invalid_json", "The request body is not valid JSON.");
    }
    if (depthExceeds(value, MAX_JSON_DEPTH)) {
      throw new KeygateError("validation_failed", `The request body is nested deeper than ${MAX_JSON_DEPTH} levels.`);
    }
    const inexact = options.exact ? inexactJson(text) : null;
    if (inexact !== null) throw new KeygateError("validation_failed", inexact);
  }
  return validated(schema, value, "invalid body");
}

/** The request's query string parsed by `schema`, or 400 `validation_failed` naming the first bad parameter. */
export function readQuery<T>(req: Request, schema: z.ZodType<T>): T {
  return validated(schema, Object.fromEntries(new URL(req.url).searchParams), "invalid query");
}

function validated<T>(schema: z.ZodType<T>, value: unknown, fallback: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new KeygateError("validation_failed", `${where}${issue?.message ?? fallback}`);
  }
  return parsed.data;
}

/** Iterative, so a hostile body cannot exhaust the stack. */
function depthExceeds(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const [node, depth] = entry;
    if (node === null || typeof node !== "object") continue;
    if (depth > limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

async function readBounded(req: Request): Promise<Uint8Array> {
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch {
      // The client went away or sent a broken body.
      throw new KeygateError("bad_request", "The request body could not be read.");
    }
    const { done, value } = chunk;
    if (done) break;
    total += value.byteLength;
    if (total > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw new KeygateError("payload_too_large", "The request body is larger than 16 KiB.");
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * The path segments below a function's own name. Supabase hands a function
 * `/<name>/...` (hosted) or `/functions/v1/<name>/...` (local server); both
 * give the same segments, e.g. `["callback", "github"]` for the auth function.
 */
export function subPath(req: Request, functionName: string): string[] {
  const segments = new URL(req.url).pathname.split("/").filter((s) => s.length > 0);
  let i = 0;
  if (segments[0] === "functions" && segments[1] === "v1") i = 2;
  if (segments[i] === functionName) i += 1;
  try {
    return segments.slice(i).map((s) => decodeURIComponent(s));
  } catch {
    throw new KeygateError("bad_request", "The request path is not valid.");
  }
}

export function methodNotAllowed(allowed: string[]): KeygateError {
  return new KeygateError("method_not_allowed", "This method is not allowed here.", {
    headers: { allow: allowed.join(", ") },
  });
}

export function notFound(): KeygateError {
  return new KeygateError("not_found", "Nothing here.");
}
