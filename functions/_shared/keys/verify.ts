/**
 * The hot path: is this presented string a live API key, and whose?
 *
 *   parse (checksum, no I/O) -> SHA-256 -> bounded in-isolate cache ->
 *   `keygate.verify_api_key` (one indexed read, a named prepared statement)
 *
 * and, at most once a minute per key, `keygate.touch_api_key` fired off the
 * response path (its failure is logged, never returned). In steady state a
 * verification is one read or a cache hit, and no write.
 *
 * Revocation bound: a cached key is served for at most `cacheTtlMs` (default
 * 5 s, at most 10 s) and never past its own expiry or grace period, so a
 * revoked key or a deactivated owner is refused within that time.
 */
import type { Db } from "../db.ts";
import { type Logger, logError } from "../http.ts";
import { parseApiKey } from "./format.ts";
import { sha256, toKeyString } from "../hash.ts";
import { TouchLimiter } from "./touch-limiter.ts";
import { VerifyCache } from "./verify-cache.ts";
import type { VerifyRow } from "../db-rows.ts";

export const DEFAULT_CACHE_TTL_MS = 5_000;

export interface VerifiedKey {
  keyId: string;
  userId: string;
  scopes: string[];
  /** ISO 8601, or null for a key that does not expire. */
  expiresAt: string | null;
}

/**
 * The key's owner and scopes, or null for anything that is not a live key.
 * Synchronous when no database read is needed (a malformed key, a cache hit):
 * the hot path then costs no promise. `await` works on either.
 */
export type Verification = VerifiedKey | null | Promise<VerifiedKey | null>;

export interface KeyVerifier {
  verify(presented: string | null | undefined): Verification;
}

export interface KeyVerifierDeps {
  db: Db;
  /** The key prefix (config.apiKeyPrefix). */
  prefix: string;
  now?: () => number;
  /** 0 turns the cache off. */
  cacheTtlMs?: number;
  cacheMaxEntries?: number;
  log?: Logger;
}

interface Cached {
  key: VerifiedKey;
  lastUsedAt: number | null;
}

function millis(value: Date | string | null): number | null {
  return value === null ? null : new Date(value).getTime();
}

export function createKeyVerifier({
  db,
  prefix,
  now = Date.now,
  cacheTtlMs = DEFAULT_CACHE_TTL_MS,
  cacheMaxEntries = 10_000,
  log = logError,
}: KeyVerifierDeps): KeyVerifier {
  const cache = new VerifyCache<Cached>({ ttlMs: cacheTtlMs, maxEntries: cacheMaxEntries, now });
  const touches = new TouchLimiter(cacheMaxEntries);

  function touch(keyId: string): void {
    db.query("select keygate.touch_api_key($1)", [keyId], "kg_touch_api_key").catch((err: unknown) => {
      log("api key last_used_at update failed", { keyId, code: (err as { code?: string }).code });
    });
  }

  async function load(hash: Uint8Array, cacheKey: string): Promise<Cached | null> {
    const rows = await db.query<VerifyRow>(
      "select * from keygate.verify_api_key($1)",
      [hash],
      "kg_verify_api_key",
    );
    const row = rows[0];
    if (!row) return null;
    const expiresAt = millis(row.expires_at);
    // Frozen: one cached object is handed to many requests.
    const entry: Cached = {
      key: Object.freeze({
        keyId: row.key_id,
        userId: row.user_id,
        scopes: Object.freeze([...row.scopes]) as string[],
        expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(),
      }),
      lastUsedAt: millis(row.last_used_at),
    };
    cache.set(cacheKey, entry, millis(row.valid_until));
    return entry;
  }

  function used(found: Cached): VerifiedKey {
    if (touches.shouldTouch(found.key.keyId, found.lastUsedAt, now())) touch(found.key.keyId);
    return found.key;
  }

  return {
    verify(presented) {
      const parsed = parseApiKey(presented, prefix);
      if (!parsed) return null;
      const hash = sha256(parsed.key);
      const cacheKey = toKeyString(hash);
      const cached = cache.get(cacheKey);
      // A cache hit answers synchronously: this is the path of nearly every request.
      if (cached) return used(cached);
      return load(hash, cacheKey).then((found) => (found ? used(found) : null));
    },
  };
}
