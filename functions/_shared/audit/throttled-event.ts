/**
 * The one `<action>.throttled` audit event of a bucket and window
 * (keygate.record_throttled_event): every isolate that throttles the bucket
 * may ask, the database records it once. Best effort, like record-event.ts:
 * a failure is logged (by name only) and changes no answer. The event holds
 * the client's address and agent like every other, and only the whitelisted
 * facts in `details`; never a key, token, cookie or code.
 */

import { type Logger, logError } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import type { RequestMeta } from "./request-meta.ts";

export const RECORD_THROTTLED_EVENT =
  "select keygate.record_throttled_event($1, $2, $3, $4, $5, $6, $7, $8) as recorded";

export interface ThrottledEvent {
  /** `sign_in.throttled`, `token.throttled`. */
  action: string;
  /** Names the bucket and window once: the first claim records the event. */
  claim: string;
  windowSeconds: number;
  /** Unix seconds. */
  windowStart: number;
  targetUserId?: string | null;
  details: Record<string, string | number | boolean | null>;
}

export async function recordThrottledEvent(
  db: Db,
  meta: RequestMeta,
  event: ThrottledEvent,
  log: Logger = logError,
): Promise<void> {
  try {
    await db.query(RECORD_THROTTLED_EVENT, [
      event.claim,
      event.windowSeconds,
      event.windowStart,
      event.action,
      event.targetUserId ?? null,
      meta.clientAddress,
      meta.userAgent,
      event.details,
    ]);
  } catch (err) {
    log("audit event not recorded", { action: event.action, name: err instanceof Error ? err.name : typeof err });
  }
}
