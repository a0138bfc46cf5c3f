/**
 * A limit of `limit` per fixed window of `windowSeconds` for each key (a
 * client address, an account), held across every isolate through shared
 * counters: the decision is window-limit.ts, the counts shared-counters.ts.
 * All in memory: deciding, reserving and counting cost no I/O; the counts
 * reach the cluster with the store's next flush.
 *
 * Two ways to use it:
 * - `acquire` before an attempt that may count (a key read that may find
 *   nothing), `release` after it, saying whether it counted. Attempts under
 *   way are reserved, so many at once cannot overshoot: past the bounds
 *   they wait for one to end (`wait`), or are refused.
 * - `check` then `count`, for what is known to count when it is decided.
 *
 * A full store (shared-counters.ts: it never evicts a running window's
 * count) fails closed rather than handing out fresh budgets: a key it holds
 * no count for shares one overflow bucket with every other such key, for the
 * rest of the window. So a client cycling through addresses cannot evict
 * anyone's count, and new clients then share one limit.
 */
import type { CounterWindow, SharedCounters } from "./shared-counters.ts";
import { windowStartOf } from "./shared-counters.ts";
import { decideWindowLimit, shareOf, type WindowLimitDecision, type WindowLimitPolicy } from "./window-limit.ts";

/** The bucket of every key the full store holds nothing for (no key is `*`). */
export const OVERFLOW_KEY = "*";
/**
 * Attempts that may wait per bucket. Generous: a backend verifying a batch of
 * valid keys it has never sent waits its turn rather than being refused;
 * each waiter is a request already open, woken one per attempt that ends.
 */
export const MAX_WAITING = 1000;

export interface WindowLimiterOptions {
  /** The buckets' prefix: `<name>:<key>`. */
  name: string;
  limit: number;
  windowSeconds: number;
  counters: SharedCounters;
  /** Attempts that may wait per bucket (MAX_WAITING). */
  maxWaiting?: number;
}

/** An admitted attempt; give it back to `release`. */
export interface LimitTicket {
  readonly bucket: string;
}

export type Admission =
  | { kind: "admit"; ticket: LimitTicket }
  | { kind: "wait"; until: Promise<void> }
  | { kind: "refuse"; reason: "limit" | "share"; retryAfterSeconds: number; counted: number };

interface Reservations {
  reserved: number;
  waiters: Array<() => void>;
  /** Attempts waiting for the next flush answer. */
  flushWaiting: number;
}

export class WindowLimiter {
  readonly name: string;
  readonly limit: number;
  readonly window: CounterWindow;
  readonly #counters: SharedCounters;
  readonly #policy: WindowLimitPolicy;
  readonly #reservations = new Map<string, Reservations>();

  constructor({ name, limit, windowSeconds, counters, maxWaiting = MAX_WAITING }: WindowLimiterOptions) {
    if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError("limit must be a whole number >= 1");
    this.name = name;
    this.limit = limit;
    // Kept one window past its end: an operator sees the last window whole.
    this.window = { seconds: windowSeconds, keepSeconds: windowSeconds };
    this.#counters = counters;
    this.#policy = { limit, share: shareOf(limit), maxWaiting };
  }

  /** When the window `now` falls in started (Unix seconds), and ends (milliseconds). */
  windowOf(now: number): { start: number; endsAt: number } {
    const start = windowStartOf(now, this.window.seconds);
    return { start, endsAt: (start + this.window.seconds) * 1000 };
  }

  /** The bucket `key` counts in now: its own, or the overflow bucket when the store is full. */
  bucketOf(key: string, now: number): string {
    const own = `${this.name}:${key}`;
    return this.#counters.accepts(own, this.window, now) ? own : `${this.name}:${OVERFLOW_KEY}`;
  }

  #decide(bucket: string, now: number): { decision: WindowLimitDecision; counted: number } {
    const view = this.#counters.view(bucket, this.window, now);
    const reservations = this.#reservations.get(bucket);
    const state = {
      known: view?.known ?? 0,
      unsynced: view?.unsynced ?? 0,
      reserved: reservations?.reserved ?? 0,
      waiting: (reservations?.waiters.length ?? 0) + (reservations?.flushWaiting ?? 0),
      windowEndsAt: this.windowOf(now).endsAt,
      reachable: this.#counters.reachable,
      nextFlushAt: this.#counters.nextFlushAt(now),
    };
    return { decision: decideWindowLimit(state, this.#policy, now), counted: state.known + state.unsynced };
  }

  /** Before an attempt that may count: admitted (reserved until `release`), to wait, or refused. */
  acquire(key: string, now: number): Admission {
    const bucket = this.bucketOf(key, now);
    const { decision, counted } = this.#decide(bucket, now);
    if (decision.kind === "refuse") return { ...decision, counted };
    let reservations = this.#reservations.get(bucket);
    if (!reservations) {
      reservations = { reserved: 0, waiters: [], flushWaiting: 0 };
      this.#reservations.set(bucket, reservations);
    }
    if (decision.kind === "wait" && decision.on === "flush") {
      const held = reservations;
      held.flushWaiting += 1;
      const until = this.#counters.nextFlushAnswered().then(() => {
        held.flushWaiting -= 1;
        if (held.reserved === 0 && held.waiters.length === 0 && held.flushWaiting === 0) {
          if (this.#reservations.get(bucket) === held) this.#reservations.delete(bucket);
        }
      });
      return { kind: "wait", until };
    }
    if (decision.kind === "wait") {
      const waiters = reservations.waiters;
      return { kind: "wait", until: new Promise<void>((resolve) => waiters.push(resolve)) };
    }
    reservations.reserved += 1;
    return { kind: "admit", ticket: { bucket } };
  }

  /** The attempt has ended: `counted` if it counts against the limit (a read that found no key). */
  release(ticket: LimitTicket, counted: boolean, now: number): void {
    const reservations = this.#reservations.get(ticket.bucket);
    // Counted even if the store filled up meanwhile: the room was there when it was admitted.
    if (counted) this.#counters.add(ticket.bucket, this.window, 1, { always: true, now });
    if (!reservations) return;
    reservations.reserved = Math.max(0, reservations.reserved - 1);
    if (reservations.reserved > 0) {
      // One attempt ended, so one waiter decides again (admitted, waiting on, or refused).
      reservations.waiters.shift()?.();
      return;
    }
    // None left under way: nothing would wake the rest, so every waiter decides now.
    if (reservations.flushWaiting === 0) this.#reservations.delete(ticket.bucket);
    for (const wake of reservations.waiters.splice(0)) wake();
  }

  /** What `acquire` would decide, reserving nothing (for `count` after). */
  check(key: string, now: number): Admission {
    const { decision, counted } = this.#decide(this.bucketOf(key, now), now);
    if (decision.kind === "refuse") return { ...decision, counted };
    // With nothing reserved, waiting is not an answer: refuse it like the share.
    if (decision.kind === "wait") return { kind: "refuse", reason: "share", retryAfterSeconds: 1, counted };
    return { kind: "admit", ticket: { bucket: this.bucketOf(key, now) } };
  }

  /** Counts one for `key` now. */
  count(key: string, now: number): void {
    this.#counters.add(this.bucketOf(key, now), this.window, 1, { always: true, now });
  }
}
