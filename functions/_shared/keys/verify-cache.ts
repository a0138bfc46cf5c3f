/**
 * A small, bounded cache of verified keys for one isolate. It is what bounds
 * the revocation delay: an entry lives at most `ttlMs` (never more than 10 s)
 * and never past the moment the key stops being valid by itself (the end of
 * a rotation grace period or its expiry).
 *
 * An entry's lifetime counts from when its database read started, not from
 * when the reply arrived: the row may have been read (and the key revoked)
 * at any moment in between, so a slow reply gets a shorter entry, and a
 * reply older than the TTL is not stored at all.
 *
 * The verifier keeps two: live keys, and (smaller) keys that were not live,
 * so a repeated unknown or revoked key costs no read within the same bound.
 *
 * No I/O: the clock comes in as a parameter (it holds state: the entries).
 */
import { MAX_CACHE_TTL_MS } from "../config/defaults.ts";

export interface VerifyCacheOptions {
  ttlMs: number;
  maxEntries: number;
  now: () => number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class VerifyCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor({ ttlMs, maxEntries, now }: VerifyCacheOptions) {
    if (!(ttlMs >= 0 && ttlMs <= MAX_CACHE_TTL_MS)) {
      throw new RangeError(`cache TTL must be 0..${MAX_CACHE_TTL_MS} ms`);
    }
    if (!(Number.isInteger(maxEntries) && maxEntries >= 0)) throw new RangeError("maxEntries must be a whole number");
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /**
   * Stores a value until `readAt` + TTL, or until `validUntil` (ms) if sooner;
   * `readAt` is when the read that produced it started (default: now).
   */
  set(key: string, value: V, validUntil: number | null, readAt?: number): void {
    if (this.#ttlMs === 0 || this.#maxEntries === 0) return;
    const now = this.#now();
    const expiresAt = Math.min(Math.min(readAt ?? now, now) + this.#ttlMs, validUntil ?? Infinity);
    if (expiresAt <= now) return;
    this.#entries.delete(key);
    // Maps iterate in insertion order: the first entry is the oldest.
    while (this.#entries.size >= this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
    this.#entries.set(key, { value, expiresAt });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}
