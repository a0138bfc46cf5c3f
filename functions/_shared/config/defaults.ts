/**
 * Every setting's default, in one place (the table in docs/configuration.md
 * names each variable). Constants only: the readers are in config.ts and
 * env.ts, and the code that uses a setting imports its default from here.
 */

/** What every key starts with (API_KEY_PREFIX): `kg_...`. */
export const DEFAULT_API_KEY_PREFIX = "kg";

/** The role a sign-in gives a new user (DEFAULT_ROLE): keys that may only read. */
export const DEFAULT_NEW_USER_ROLE = "viewer";

/**
 * Connections each isolate may hold (DB_POOL_MAX). Four, as Supabase's own
 * server library defaults to: measured, one holds an isolate back and more
 * than four bought no clear throughput on the cold key path, while many
 * isolates times a large pool exhaust a small project (docs/deploy.md, "Database
 * connections").
 */
export const DEFAULT_DB_POOL_MAX = 4;

/** Keys a user may create or rotate per minute (API_KEY_CREATE_PER_MINUTE). */
export const DEFAULT_CREATE_PER_MINUTE = 10;

/** Cloudflare sets it, replacing any value a client sent, in front of Supabase's gateway. */
export const DEFAULT_CLIENT_IP_HEADER = "cf-connecting-ip";

/** What nginx, Caddy, HAProxy and most load balancers append to. */
export const DEFAULT_PROXY_CLIENT_IP_HEADER = "x-forwarded-for";

/** A /64 is the smallest network an IPv6 host is usually given: one host, one bucket. */
export const DEFAULT_IPV6_PREFIX = 64;

/** Refused sign-ins and code exchanges per minute, per client address and per account. */
export const DEFAULT_AUTH_LIMITS = { failuresPerMinute: 30, accountFailuresPerMinute: 10 };

/** The job queue (JOBS_*). */
export const DEFAULT_JOB_SETTINGS = {
  createPerMinute: 600,
  maxUnfinished: 1000,
  retentionDays: 7,
  retryBaseSeconds: 10,
  retryMaxSeconds: 3600,
};

/** Reads that find no live key, per client address and minute (API_KEY_FAILURES_PER_MINUTE). */
export const DEFAULT_FAILURES_PER_MINUTE = 60;

/** How long an isolate may serve a verification by default: the revocation bound docs/security.md states. */
export const DEFAULT_CACHE_TTL_MS = 5_000;

/** The most API_KEY_CACHE_TTL_MS may be: the longest a revocation may lag. */
export const MAX_CACHE_TTL_MS = 10_000;
