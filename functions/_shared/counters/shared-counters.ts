/**
 * Counts shared by every isolate of every function (`public.shared_counters`),
 * as this isolate sees them: the cluster total its last flush was answered
 * with, plus what it has counted since.
 *
 * A count is a bucket (a name such as `key_failures:198.51.100.7`) in one
 * fixed window, `seconds` long and aligned to the Unix epoch, so every
 * isolate names the same window; its row is kept `keepSeconds` past the
 * window's end. `add` counts in memory only. At most once every `intervalMs`
 * (FLUSH_INTERVAL_MS), and only while something is unflushed, one statement
 * adds every unflushed count and answers with the cluster totals of those
 * buckets (flush-to-database.ts). An idle isolate runs no timer and writes
 * nothing. The flush is handed to `EdgeRuntime.waitUntil` where the runtime
 * has it, so an isolate retired after its response still adds its counts.
 *
 * A failed flush keeps its counts for the next one (until the window's row
 * would have expired anyway; a flush whose answer was lost may then be
 * counted twice, which errs on the side of a limit) and marks the cluster
 * unreachable until a flush succeeds: deciders then hold to this isolate's
 * own counts (window-limit.ts).
 *
 * Memory is bounded by `maxEntries` buckets. The entry of a window still
 * running is never evicted: an evicted count would be a fresh budget. So
 * when full, `add` refuses a new bucket unless told it must count
 * (`always`), and the caller decides what a full store means for it
 * (window-limiter.ts: one overflow bucket for everyone new). An entry goes
 * once its window has ended and nothing of it is unflushed.
 */
import { runInBackground, runtimeWaitUntil, type WaitUntil } from "../core/background.ts";
import { type Logger, logError } from "../core/log.ts";

/** At most one flush per isolate (and store) this often, while there is something to flush. */
export const FLUSH_INTERVAL_MS = 2000;
export const DEFAULT_MAX_ENTRIES = 10_000;

/** A window kind: its length, and how long its rows are kept after it ends. */
export interface CounterWindow {
  seconds: number;
  keepSeconds: number;
}

/** One bucket's increment in one window, as a flush sends it. */
export interface CounterIncrement {
  bucket: string;
  windowSeconds: number;
  /** Unix seconds, a multiple of windowSeconds. */
  windowStart: number;
  increment: number;
  keepSeconds: number;
}

/** The cluster total of one bucket in one window, after a flush added to it. */
export interface CounterTotal {
  bucket: string;
  windowSeconds: number;
  windowStart: number;
  total: number;
}

/** Adds increments and answers with the totals; rejects when the database cannot. */
export type FlushCounters = (increments: readonly CounterIncrement[]) => Promise<CounterTotal[]>;

/** A bucket in the current window, as this isolate sees it. */
export interface CounterView {
  /** The cluster total the last flush answered with (0 before any answer). */
  known: number;
  /** Counted here and not yet in an answer: unflushed, or in a flush under way. */
  unsynced: number;
}

export interface SharedCountersOptions {
  flush: FlushCounters;
  now?: () => number;
  intervalMs?: number;
  maxEntries?: number;
  /** Defaults to the runtime's `EdgeRuntime.waitUntil`, where there is one. */
  waitUntil?: WaitUntil;
  log?: Logger;
}

interface Entry {
  key: string;
  bucket: string;
  windowSeconds: number;
  windowStart: number;
  keepSeconds: number;
  /** Milliseconds. */
  endsAt: number;
  expiresAt: number;
  known: number;
  pending: number;
  inFlight: number;
}

/** The start of the window `now` falls in, in Unix seconds. */
export function windowStartOf(now: number, seconds: number): number {
  return Math.floor(now / 1000 / seconds) * seconds;
}

function keyOf(bucket: string, windowSeconds: number, windowStart: number): string {
  return `${windowSeconds}/${windowStart}/${bucket}`;
}

export class SharedCounters {
  readonly #entries = new Map<string, Entry>();
  readonly #flush: FlushCounters;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #maxEntries: number;
  readonly #waitUntil: WaitUntil | undefined;
  readonly #log: Logger;
  #reachable = true;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = 0;
  /** Settles the promise handed to waitUntil for the scheduled flush. */
  #settleHanded: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #lastFlushAt = Number.NEGATIVE_INFINITY;
  /** Woken when the next flush has been answered (or has failed). */
  #flushWaiters: Array<() => void> = [];
  #lastSweepAt = Number.NEGATIVE_INFINITY;

  constructor({
    flush,
    now = Date.now,
    intervalMs = FLUSH_INTERVAL_MS,
    maxEntries = DEFAULT_MAX_ENTRIES,
    waitUntil,
    log = logError,
  }: SharedCountersOptions) {
    this.#flush = flush;
    this.#now = now;
    this.#intervalMs = intervalMs;
    this.#maxEntries = maxEntries;
    this.#waitUntil = waitUntil;
    this.#log = log;
  }

  /** False from a failed flush until one succeeds. */
  get reachable(): boolean {
    return this.#reachable;
  }

  /** When the next flush starts: null when none is due, `now` while one is under way. */
  nextFlushAt(now: number = this.#now()): number | null {
    if (this.#running) return now;
    return this.#timer === undefined ? null : this.#timerAt;
  }

  /**
   * Settles once the flush under way, else the next one due, has been
   * answered (or has failed); at once when nothing is waiting to be flushed.
   * For deciders that wait for the cluster's total rather than guess.
   */
  nextFlushAnswered(): Promise<void> {
    if (!this.#running && this.#timer === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => this.#flushWaiters.push(resolve));
  }

  /** Buckets held (every window). */
  get size(): number {
    return this.#entries.size;
  }

  /** The bucket in the window `now` falls in; undefined when this isolate holds nothing of it. */
  view(bucket: string, window: CounterWindow, now: number = this.#now()): CounterView | undefined {
    const entry = this.#entries.get(keyOf(bucket, window.seconds, windowStartOf(now, window.seconds)));
    return entry && { known: entry.known, unsynced: entry.pending + entry.inFlight };
  }

  /** Whether `add` would count this bucket now without `always`: it is held, or there is room. */
  accepts(bucket: string, window: CounterWindow, now: number = this.#now()): boolean {
    if (this.#entries.has(keyOf(bucket, window.seconds, windowStartOf(now, window.seconds)))) return true;
    if (this.#entries.size < this.#maxEntries) return true;
    // Full: ended windows may be holding the room. Swept at most once an interval.
    if (now - this.#lastSweepAt >= this.#intervalMs) this.#sweep(now);
    return this.#entries.size < this.#maxEntries;
  }

  /**
   * Counts `n` in the bucket's current window, in memory; the next flush adds
   * it to the cluster. Returns false, counting nothing, when the store is full
   * and does not hold the bucket, unless `always`.
   */
  add(bucket: string, window: CounterWindow, n = 1, { always = false, now = this.#now() } = {}): boolean {
    const windowStart = windowStartOf(now, window.seconds);
    const key = keyOf(bucket, window.seconds, windowStart);
    let entry = this.#entries.get(key);
    if (!entry) {
      if (!always && !this.accepts(bucket, window, now)) return false;
      const endsAt = (windowStart + window.seconds) * 1000;
      entry = {
        key,
        bucket,
        windowSeconds: window.seconds,
        windowStart,
        keepSeconds: window.keepSeconds,
        endsAt,
        expiresAt: endsAt + window.keepSeconds * 1000,
        known: 0,
        pending: 0,
        inFlight: 0,
      };
      this.#entries.set(key, entry);
    }
    entry.pending += n;
    this.#schedule(now);
    return true;
  }

  /** Flushes now, after any flush under way (tests; an orderly shutdown). */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    await this.#run();
  }

  #schedule(now: number): void {
    if (this.#timer !== undefined || this.#running) return;
    const at = Math.max(now, this.#lastFlushAt + this.#intervalMs);
    this.#timerAt = at;
    // Keeps a retiring isolate alive until its counts are added.
    const handed = new Promise<void>((resolve) => {
      this.#settleHanded = resolve;
    });
    runInBackground(handed, () => {}, this.#waitUntil ?? runtimeWaitUntil());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#run();
    }, at - now);
  }

  async #run(): Promise<void> {
    const settleHanded = this.#settleHanded;
    this.#settleHanded = undefined;
    const now = this.#now();
    const batch: Entry[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.pending === 0) continue;
      // Its row would be gone already: nothing left to count it towards.
      if (entry.expiresAt <= now) {
        entry.pending = 0;
        continue;
      }
      entry.inFlight = entry.pending;
      entry.pending = 0;
      batch.push(entry);
    }
    if (batch.length > 0) {
      this.#lastFlushAt = now;
      const running = this.#send(batch);
      this.#running = running;
      await running;
      this.#running = undefined;
    }
    for (const wake of this.#flushWaiters.splice(0)) wake();
    this.#sweep(this.#now());
    settleHanded?.();
    if (this.#hasPending()) this.#schedule(this.#now());
  }

  async #send(batch: Entry[]): Promise<void> {
    try {
      const totals = await this.#flush(
        batch.map((e) => ({
          bucket: e.bucket,
          windowSeconds: e.windowSeconds,
          windowStart: e.windowStart,
          increment: e.inFlight,
          keepSeconds: e.keepSeconds,
        })),
      );
      const byKey = new Map(totals.map((t) => [keyOf(t.bucket, t.windowSeconds, t.windowStart), t.total]));
      for (const entry of batch) {
        entry.known = byKey.get(entry.key) ?? entry.known + entry.inFlight;
        entry.inFlight = 0;
      }
      this.#reachable = true;
    } catch (err) {
      for (const entry of batch) {
        entry.pending += entry.inFlight;
        entry.inFlight = 0;
      }
      // Said once per outage, not once per flush.
      if (this.#reachable) {
        const code = (err as { code?: unknown })?.code;
        this.#log("shared counters not flushed: limits hold per isolate until a flush succeeds", {
          name: err instanceof Error ? err.name : typeof err,
          ...(typeof code === "string" && /^[A-Za-z0-9_]{2,32}$/.test(code) ? { code } : {}),
        });
      }
      this.#reachable = false;
    }
  }

  #hasPending(): boolean {
    for (const entry of this.#entries.values()) if (entry.pending > 0) return true;
    return false;
  }

  #sweep(now: number): void {
    this.#lastSweepAt = now;
    for (const [key, entry] of this.#entries) {
      if (entry.endsAt <= now && entry.pending === 0 && entry.inFlight === 0) this.#entries.delete(key);
    }
  }
}
