/**
 * How many key verifications that cost a database read and found no live key
 * one client may cause: a token bucket per client address, `perMinute`
 * tokens refilled evenly over a minute, at most `perMinute` saved up.
 *
 * `check` comes before a read and refuses a client with no token left;
 * `charge` comes after a read that found no live key. Valid keys never
 * spend anything, however many a client verifies at once. Reads already
 * under way when the budget runs out are charged too, as debt (at most one
 * more minute's worth), so a client that fires many at once waits longer
 * afterwards. Malformed keys and cache hits cost no read and never get here.
 *
 * A decision only, no I/O (its state is the counts per address): the clock
 * comes in with each call; the verifier applies the
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

  #tokens(client: string, now: number): number {
    const bucket = this.#buckets.get(client);
    if (!bucket) return this.#perMinute;
    return Math.min(this.#perMinute, bucket.tokens + (Math.max(0, now - bucket.at) * this.#perMinute) / 60_000);
  }

  /** May this client start a read now? Changes nothing. */
  check(client: string | null, now: number): LimitDecision {
    if (this.#perMinute === 0 || !client) return ALLOWED;
    const tokens = this.#tokens(client, now);
    if (tokens >= 1) return ALLOWED;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(((1 - tokens) * 60) / this.#perMinute)) };
  }

  /** A read for this client found no live key: one token spent. */
  charge(client: string | null, now: number): void {
    if (this.#perMinute === 0 || !client) return;
    const tokens = Math.max(-this.#perMinute, this.#tokens(client, now) - 1);
    this.#buckets.delete(client);
    // Maps iterate in insertion order: the first is the least recently charged client.
    while (this.#buckets.size >= this.#maxClients) this.#buckets.delete(this.#buckets.keys().next().value as string);
    this.#buckets.set(client, { tokens, at: now });
  }

  get size(): number {
    return this.#buckets.size;
  }
}
