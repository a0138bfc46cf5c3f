/**
 * The decision of a limit of `limit` per fixed window held across every
 * isolate, from one isolate's view of the shared count (shared-counters.ts).
 * Pure: no I/O, no clock but the `now` it is given.
 *
 *   counted  = known (the cluster total at the last flush) + unsynced (counted
 *              here since, not yet in an answer)
 *   reserved = attempts this isolate admitted that may still count (a read
 *              under way that may find no key)
 *
 * - counted >= limit: refused until the window ends ("limit").
 * - While the cluster is reachable, an isolate admits at most `share`
 *   between two flush answers: past it, an attempt waits for the next flush
 *   answer ("wait" on "flush"; the flush is due within the flush interval)
 *   and is decided again with the cluster's total, so a client under its
 *   limit is slowed, never refused. This is what bounds the cluster: every isolate may be
 *   at most `share` behind the others, so over a window the cluster admits
 *   at most limit - 1 + isolates x share. A cold isolate, with no cluster
 *   view yet, admits `share` before its first flush answers.
 * - counted + reserved, or unsynced + reserved, reaching those bounds: the
 *   attempt waits for one of the reserved ones to end ("wait" on
 *   "release"), so attempts made at once cannot overshoot either. At most
 *   `maxWaiting` wait in all; the rest are refused ("share").
 * - While the cluster is unreachable (the last flush failed) there is no
 *   share: the isolate holds the limit on its own counts, as a per-isolate
 *   limit. A database outage never turns into refusals of its own.
 */

/** The share of the limit an isolate may admit between two flush answers: a tenth, at least 1. */
export function shareOf(limit: number): number {
  return Math.max(1, Math.ceil(limit / 10));
}

export interface WindowLimitPolicy {
  limit: number;
  share: number;
  maxWaiting: number;
}

export interface WindowLimitState {
  known: number;
  unsynced: number;
  reserved: number;
  waiting: number;
  /** Milliseconds since the epoch. */
  windowEndsAt: number;
  reachable: boolean;
  /** When the next flush starts (null: none due; an attempt may start one). */
  nextFlushAt: number | null;
}

export type WindowLimitDecision =
  | { kind: "admit" }
  | { kind: "wait"; on: "release" | "flush" }
  | { kind: "refuse"; reason: "limit" | "share"; retryAfterSeconds: number };

const ADMIT: WindowLimitDecision = Object.freeze({ kind: "admit" });
const WAIT_RELEASE: WindowLimitDecision = Object.freeze({ kind: "wait", on: "release" });
const WAIT_FLUSH: WindowLimitDecision = Object.freeze({ kind: "wait", on: "flush" });

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export function decideWindowLimit(
  state: WindowLimitState,
  policy: WindowLimitPolicy,
  now: number,
): WindowLimitDecision {
  const counted = state.known + state.unsynced;
  if (counted >= policy.limit) {
    return { kind: "refuse", reason: "limit", retryAfterSeconds: seconds(state.windowEndsAt - now) };
  }
  // The answer of the next flush frees the share: a second after it starts, give or take.
  const afterFlush = seconds((state.nextFlushAt ?? now) - now + 1000);
  const crowded = state.waiting >= policy.maxWaiting;
  if (state.reachable && state.unsynced >= policy.share) {
    return crowded ? { kind: "refuse", reason: "share", retryAfterSeconds: afterFlush } : WAIT_FLUSH;
  }
  const busy =
    counted + state.reserved >= policy.limit || (state.reachable && state.unsynced + state.reserved >= policy.share);
  if (!busy) return ADMIT;
  if (!crowded) return WAIT_RELEASE;
  return { kind: "refuse", reason: "share", retryAfterSeconds: 1 };
}
