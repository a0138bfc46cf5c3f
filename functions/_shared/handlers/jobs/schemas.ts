/**
 * What the jobs routes accept: request bodies, query strings, the
 * Idempotency-Key header, and the size cap of each free-form field. The whole
 * body is already capped at 16 KiB (http/response.ts); within it, each field
 * has its own cap, and a field over its cap is 413 `payload_too_large`. The
 * handler reads every body exactly (http/exact-json.ts), so these schemas see
 * the values the client sent, and must pass the free-form ones on unchanged.
 */
import { z } from "zod";
import { KeygateError } from "../../core/errors.ts";

export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "canceled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Byte caps of the JSON (UTF-8) of each free-form field. */
export const FIELD_CAPS = { payload: 8 * 1024, result: 8 * 1024, progress: 1024, error: 2000 } as const;

export const MAX_LEASE_SECONDS = 3600;
export const DEFAULT_LEASE_SECONDS = 300;
export const MAX_RUN_AT_DAYS = 365;

const type = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, {
  message: "1-64 letters, digits or _ . : -, starting with a letter or digit",
});
const attempt = z.int().min(1).max(1000).optional();
const leaseSeconds = z.int().min(1).max(MAX_LEASE_SECONDS).optional();
const anyJson = z.unknown().refine((v) => v !== undefined && v !== null, { message: "must not be null" });
/**
 * A JSON object, checked and passed on as parsed: `z.record` would copy it
 * key by key, and assigning a `__proto__` key sets the copy's prototype
 * instead of keeping the key (JSON.parse makes it an own key, as jsonb does).
 */
const jsonObject = z.custom<Record<string, unknown>>((v) => typeof v === "object" && v !== null && !Array.isArray(v), {
  message: "expected an object",
});

export const createBody = z.strictObject({
  type,
  payload: jsonObject.optional(),
  run_at: z.iso.datetime({ offset: true }).optional(),
  max_attempts: z.int().min(1).max(25).optional(),
  priority: z.int().min(-100).max(100).optional(),
});

export const claimBody = z.strictObject({
  types: z.array(type).min(1).max(20).optional(),
  limit: z.int().min(1).max(100).optional(),
  lease_seconds: leaseSeconds,
});

export const heartbeatBody = z.strictObject({ attempt, progress: anyJson.optional(), lease_seconds: leaseSeconds });
export const completeBody = z.strictObject({ attempt, result: anyJson.optional() });
export const failBody = z.strictObject({
  attempt,
  error: z.string().min(1),
  retry: z.boolean().optional(),
});
export const emptyBody = z.strictObject({});

/** Throws 413 when `value`'s JSON is over the cap of `field`. */
export function assertFieldSize(field: keyof typeof FIELD_CAPS, value: unknown): void {
  if (value === undefined) return;
  const text = typeof value === "string" && field === "error" ? value : JSON.stringify(value);
  const bytes = new TextEncoder().encode(text).byteLength;
  if (bytes > FIELD_CAPS[field]) {
    throw new KeygateError(
      "payload_too_large",
      `${field} is ${bytes} bytes; the most it may be is ${FIELD_CAPS[field]}.`,
    );
  }
}

/** A run_at in the past means "now"; more than a year ahead is refused. */
export function parseRunAt(value: string | undefined, now = Date.now()): Date | null {
  if (value === undefined) return null;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new KeygateError("validation_failed", "run_at: not a date");
  if (at.getTime() - now > MAX_RUN_AT_DAYS * 86_400_000) {
    throw new KeygateError("validation_failed", `run_at: at most ${MAX_RUN_AT_DAYS} days ahead`);
  }
  return at;
}

/** The Idempotency-Key header: 1-255 visible ASCII characters, or absent. */
export function idempotencyKey(req: Request): string | null {
  const raw = req.headers.get("idempotency-key");
  if (raw === null) return null;
  if (!/^[\x21-\x7e]{1,255}$/.test(raw)) {
    throw new KeygateError("validation_failed", "Idempotency-Key: 1 to 255 visible ASCII characters");
  }
  return raw;
}

export interface ListQuery {
  status: JobStatus | null;
  type: string | null;
  cursor: string | null;
  limit: number;
}

/** `?status=&type=&cursor=&limit=` of GET /jobs; anything else in the query is ignored. */
export function parseListQuery(url: URL): ListQuery {
  const params = url.searchParams;
  const status = params.get("status");
  if (status !== null && !(JOB_STATUSES as readonly string[]).includes(status)) {
    throw new KeygateError("validation_failed", `status: one of ${JOB_STATUSES.join(", ")}`);
  }
  const typeParam = params.get("type");
  if (typeParam !== null && !type.safeParse(typeParam).success) {
    throw new KeygateError(
      "validation_failed",
      "type: 1-64 letters, digits or _ . : -, starting with a letter or digit",
    );
  }
  const rawLimit = params.get("limit");
  const limit = rawLimit === null ? 50 : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new KeygateError("validation_failed", "limit: a whole number from 1 to 100");
  }
  return { status: status as JobStatus | null, type: typeParam, cursor: params.get("cursor"), limit };
}
