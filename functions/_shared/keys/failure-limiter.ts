/**
 * How many key verifications that cost a database read and found no live key
 * one client may cause: a token bucket per client address, `perMinute`
 * tokens refilled evenly over a minute, at most `perMinute` saved up.
 *
 * A read takes a token before it starts (so concurrent reads count too) and
 * a read that finds a live key gives it back: only failures spend the
 * budget. Malformed keys and cache hits cost no read and never reach it.
 *
 * Pure: the clock comes in with each call, no I/O; the verifier applies the
 * decision (verify.ts) and the route turns a refusal into 429.
 */
export const DEFAULT_FAILURES_PER_MINUTE = 60;

export interface LimitDecision {
  allowed: boolean;
  /** When refused: whole seconds until one more read is allowed. */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

const ALLOWED: LimitDecision = Object.freeze({ allowed: true, retryAfterSeconds: 0 });

export class FailureLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #perMinute: number;
  readonly #maxClients: number;

  /** `perMinute` 0 turns the limit off. */
  constructor(perMinute: number, maxClients = 10_000) {
    if (!(Number.isInteger(perMinute) && perMinute >= 0)) throw new RangeError("perMinute must be a whole number");
    this.#perMinute = perMinute;
    this.#maxClients = maxClients;
  }

  #refilled(client: string, now: number): Bucket {
    const bucket = this.#buckets.get(client);
    if (!bucket) return { tokens: this.#perMinute, at: now };
    const tokens = Math.min(this.#perMinute, bucket.tokens + (Math.max(0, now - bucket.at) * this.#perMinute) / 60_000);
    return { tokens, at: now };
  }

  /** Takes one token for a read about to start, or refuses with the wait. */
  take(client: string | null, now: number): LimitDecision {
    if (this.#perMinute === 0 || !client) return ALLOWED;
    const bucket = this.#refilled(client, now);
    if (bucket.tokens < 1) {
      this.#store(client, bucket);
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(((1 - bucket.tokens) * 60) / this.#perMinute)) };
    }
    bucket.tokens -= 1;
    this.#store(client, bucket);
    return ALLOWED;
  }

  /** The read found a live key: the token taken for it comes back. */
  giveBack(client: string | null, now: number): void {
    if (this.#perMinute === 0 || !client) return;
    const bucket = this.#refilled(client, now);
    bucket.tokens = Math.min(this.#perMinute, bucket.tokens + 1);
    if (bucket.tokens >= this.#perMinute) this.#buckets.delete(client);
    else this.#store(client, bucket);
  }

  get size(): number {
    return this.#buckets.size;
  }

  #store(client: string, bucket: Bucket): void {
    this.#buckets.delete(client);
    // Maps iterate in insertion order: the first is the least recently seen client.
    while (this.#buckets.size >= this.#maxClients) this.#buckets.delete(this.#buckets.keys().next().value as string);
    this.#buckets.set(client, bucket);
  }
}
