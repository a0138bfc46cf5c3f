/**
 * The hot path: is this presented string a live API key, and whose?
 *
 *   parse (checksum, no I/O) -> SHA-256 -> bounded in-isolate caches (live
 *   keys; keys found not live) -> a read of the same key already under way ->
 *   per-client failure limit -> `keygate.lookup_api_key` (one indexed read:
 *   the stored scopes and the owner's role) -> the role ceiling, applied here
 *   (`scopesWithinRole`, the rule of `keygate.role_allows_scope`), before the
 *   result is cached
 *
 * and, at most once a minute per key, `keygate.touch_api_key` run after the
 * response (handed to `EdgeRuntime.waitUntil` where the runtime has it; its
 * failure is logged, never returned). In steady state a verification is one
 * read or a cache hit, and no write.
 *
 * Revocation bound: a cached key is served for at most `cacheTtlMs` (default
 * 5 s, at most 10 s) counted from the start of the read that found it, and
 * never past its own expiry or grace period, so a revoked key or a
 * deactivated owner is refused within that time however slow the read was.
 * A key found not live (unknown, revoked, expired, inactive owner) is
 * remembered as such for the same bound, in a smaller cache: a repeat costs
 * no read, and a reactivated owner's keys work again within the bound.
 *
 * Failure limit: each read that finds no live key spends one of the
 * client's `failuresPerMinute` (keyed by the address something trusted
 * vouches for, IPv6 by network: client-key.ts), counted across the cluster
 * (failure-limiter.ts); a read that finds one, or fails on our side, spends
 * nothing. A client out of budget gets 429 for any key that would need a
 * read, its own valid keys included (a hit in the cache of live keys is
 * still served): the read is what the limit protects. Other clients are
 * unaffected. The check and the count are in memory: a refused read costs no
 * I/O, an admitted one nothing but its read.
 */

import { type ClientAddressSettings, loadClientAddressSettings } from "../config/config.ts";
import { DEFAULT_CACHE_TTL_MS, DEFAULT_FAILURES_PER_MINUTE } from "../config/defaults.ts";
import { runInBackground, runtimeWaitUntil, type WaitUntil } from "../core/background.ts";
import { KeygateError } from "../core/errors.ts";
import { sha256, toKeyString } from "../core/hash.ts";
import { type Logger, logError } from "../core/log.ts";
import { flushToDatabase } from "../counters/flush-to-database.ts";
import { SharedCounters } from "../counters/shared-counters.ts";
import type { LimitTicket } from "../counters/window-limiter.ts";
import type { Db } from "../db/db.ts";
import type { VerifyRow } from "../db/rows.ts";
import { clientKey } from "../http/client-key.ts";
import { createFailureLimiter } from "./failure-limiter.ts";
import { parseApiKey } from "./format.ts";
import { scopesWithinRole } from "./scopes.ts";
import { TouchLimiter } from "./touch-limiter.ts";
import { VerifyCache } from "./verify-cache.ts";

/** Keys found not live, remembered: a small cache, for repeats (a flood of distinct keys is the limiter's job). */
export const NEGATIVE_CACHE_ENTRIES = 1_000;

/** Who owns a key: a user (a personal key) or an organization. */
export interface KeyOwner {
  type: "user" | "organization";
  id: string;
}

/**
 * A live key's principal. The owner acts, never the maker: an organization's
 * key has no `userId`, and its `createdBy` is who made it, not who uses it.
 */
export interface VerifiedKey {
  keyId: string;
  owner: KeyOwner;
  /** The owner of a personal key; null for an organization's key. */
  userId: string | null;
  /** The owner of an organization's key; null for a personal key. */
  orgId: string | null;
  /** Who made the key (a personal key's owner); null once their account is deleted. */
  createdBy: string | null;
  scopes: string[];
  /** ISO 8601, or null for a key that does not expire. */
  expiresAt: string | null;
}

/**
 * The key's owner and scopes, or null for anything that is not a live key.
 * Synchronous when no database read is needed (a malformed key, a cache hit):
 * the hot path then costs no promise. `await` works on either. Throws 429
 * `rate_limited` when the client is over its failure limit: synchronously,
 * or (the promise rejects) once its reads under way have ended.
 */
export type Verification = VerifiedKey | null | Promise<VerifiedKey | null>;

export interface KeyVerifier {
  /** `from`: the request the key came with, for the per-client failure limit. */
  verify(presented: string | null | undefined, from?: Request): Verification;
}

export interface KeyVerifierDeps {
  db: Db;
  /** The key prefix (config.apiKeyPrefix). */
  prefix: string;
  now?: () => number;
  /** 0 turns both caches off. */
  cacheTtlMs?: number;
  cacheMaxEntries?: number;
  /** Reads finding no live key, per client per minute; 0 = no limit. */
  failuresPerMinute?: number;
  /** Who the client is, for the failure limit (config.clientAddress); the defaults without it. */
  clientAddress?: ClientAddressSettings;
  /** Where the failure counts are shared; defaults to the database's shared counters. */
  counters?: SharedCounters;
  /** Defaults to the runtime's `EdgeRuntime.waitUntil`, where there is one. */
  waitUntil?: WaitUntil;
  log?: Logger;
}

interface Cached {
  key: VerifiedKey;
  lastUsedAt: number | null;
}

function millis(value: Date | string | null): number | null {
  return value === null ? null : new Date(value).getTime();
}

function tooManyFailures(retryAfterSeconds: number): KeygateError {
  return new KeygateError("rate_limited", "Too many requests with keys that are not valid. Try again later.", {
    headers: { "retry-after": String(retryAfterSeconds) },
  });
}

export function createKeyVerifier({
  db,
  prefix,
  now = Date.now,
  cacheTtlMs = DEFAULT_CACHE_TTL_MS,
  cacheMaxEntries = 10_000,
  failuresPerMinute = DEFAULT_FAILURES_PER_MINUTE,
  clientAddress = loadClientAddressSettings({}),
  counters,
  waitUntil,
  log = logError,
}: KeyVerifierDeps): KeyVerifier {
  const cache = new VerifyCache<Cached>({ ttlMs: cacheTtlMs, maxEntries: cacheMaxEntries, now });
  const notLive = new VerifyCache<true>({
    ttlMs: cacheTtlMs,
    maxEntries: Math.min(NEGATIVE_CACHE_ENTRIES, cacheMaxEntries),
    now,
  });
  const touches = new TouchLimiter(cacheMaxEntries);
  const failures = createFailureLimiter(
    failuresPerMinute,
    counters ?? new SharedCounters({ flush: flushToDatabase(db), now, waitUntil, log }),
  );
  // Reads under way, by key: concurrent misses of one key share a read (bounded by the keys in flight).
  const inFlight = new Map<string, Promise<Cached | null>>();

  function touch(keyId: string): void {
    runInBackground(
      db.query("select keygate.touch_api_key($1)", [keyId]),
      (err) => log("api key last_used_at update failed", { keyId, code: (err as { code?: string }).code }),
      waitUntil ?? runtimeWaitUntil(),
    );
  }

  /**
   * May this client start a read: its ticket (null: no limit applies), or a
   * promise of one once its reads under way allow; throws 429 when refused.
   */
  function admit(client: string | null): LimitTicket | null | Promise<LimitTicket | null> {
    if (!failures || !client) return null;
    const admission = failures.acquire(client, now());
    if (admission.kind === "admit") return admission.ticket;
    if (admission.kind === "refuse") throw tooManyFailures(admission.retryAfterSeconds);
    return admission.until.then(() => admit(client));
  }

  async function load(hash: Uint8Array, cacheKey: string, ticket: LimitTicket | null): Promise<Cached | null> {
    // The entry's lifetime counts from here: the row may be read at any moment until the reply.
    const readAt = now();
    let rows: VerifyRow[] | undefined;
    try {
      rows = await db.query<VerifyRow>("select * from keygate.lookup_api_key($1)", [hash]);
    } finally {
      // Only a read that found no live key counts; one that failed on our side does not.
      if (ticket) failures?.release(ticket, rows?.length === 0, now());
    }
    const row = rows[0];
    if (!row) {
      notLive.set(cacheKey, true, null, readAt);
      return null;
    }
    const expiresAt = millis(row.expires_at);
    // Frozen: one cached object is handed to many requests.
    const entry: Cached = {
      key: Object.freeze({
        keyId: row.key_id,
        owner: Object.freeze(
          row.org_id === null
            ? { type: "user" as const, id: row.user_id as string }
            : { type: "organization" as const, id: row.org_id },
        ),
        userId: row.org_id === null ? row.user_id : null,
        orgId: row.org_id,
        createdBy: row.created_by,
        // The role ceiling: the owner's current role bounds the stored scopes.
        scopes: Object.freeze(scopesWithinRole(row.role, row.scopes)) as string[],
        expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(),
      }),
      lastUsedAt: millis(row.last_used_at),
    };
    cache.set(cacheKey, entry, millis(row.valid_until), readAt);
    return entry;
  }

  function used(found: Cached): VerifiedKey {
    if (touches.shouldTouch(found.key.keyId, found.lastUsedAt, now())) touch(found.key.keyId);
    return found.key;
  }

  return {
    verify(presented, from) {
      const parsed = parseApiKey(presented, prefix);
      if (!parsed) return null;
      const hash = sha256(parsed.key);
      const cacheKey = toKeyString(hash);
      const cached = cache.get(cacheKey);
      // A cache hit answers synchronously: this is the path of nearly every request.
      if (cached) return used(cached);
      if (notLive.get(cacheKey)) return null;
      let read = inFlight.get(cacheKey);
      if (!read) {
        const client = from ? clientKey(from, clientAddress) : null;
        const ticket = admit(client);
        read = (
          ticket instanceof Promise ? ticket.then((t) => load(hash, cacheKey, t)) : load(hash, cacheKey, ticket)
        ).finally(() => inFlight.delete(cacheKey));
        inFlight.set(cacheKey, read);
      }
      return read.then((found) => (found ? used(found) : null));
    },
  };
}
