/**
 * Decides when a verified key's `last_used_at` is written: at most once a
 * minute per key. The database row says when it was last written; an
 * in-memory map of this isolate's own recent writes covers the time until a
 * (possibly cached) row shows it, so steady-state verification issues no
 * write at all. A decision only, no I/O (its state is that map): the route
 * applies it.
 */
export const TOUCH_INTERVAL_MS = 60_000;

export class TouchLimiter {
  readonly #lastTouch = new Map<string, number>();
  readonly #maxEntries: number;

  constructor(maxEntries = 10_000) {
    this.#maxEntries = maxEntries;
  }

  /** True when a write is due now; records it so the next minute says false. */
  shouldTouch(keyId: string, lastUsedAt: number | null, now: number): boolean {
    if (lastUsedAt !== null && now - lastUsedAt < TOUCH_INTERVAL_MS) return false;
    const mine = this.#lastTouch.get(keyId);
    if (mine !== undefined && now - mine < TOUCH_INTERVAL_MS) return false;
    this.#lastTouch.delete(keyId);
    while (this.#lastTouch.size >= this.#maxEntries) {
      this.#lastTouch.delete(this.#lastTouch.keys().next().value as string);
    }
    this.#lastTouch.set(keyId, now);
    return true;
  }
}
