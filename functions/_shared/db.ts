/**
 * The database handle every function uses: node-postgres clients in a small
 * pool of our own (db-pool.ts, and why) behind a two-method interface, with
 * database errors mapped to KeygateErrors in one place.
 *
 * Pooler-safe by default: every statement is sent unnamed (Parse/Bind/Execute
 * of the unnamed statement, no `PREPARE`, no session `SET`), so it works
 * through a transaction-mode pooler (Supabase's Supavisor on port 6543,
 * PgBouncer with `pool_mode = transaction`) that hands each transaction to
 * whichever server connection is free and keeps no prepared statement
 * between them. Named statements save a parse and plan per query (measured
 * in docs/benchmark.md, "Named vs unnamed"), so a direct or
 * session-mode connection may turn them on (`prepared`, DB_PREPARED_STATEMENTS).
 *
 * SQL functions raise custom SQLSTATEs (see the migrations) that map to codes
 * here; a database or pooler that cannot be reached, or that has no
 * connection to give, becomes a 503 `service_unavailable` with a jittered
 * `Retry-After`, and the pool replaces broken connections, so service
 * recovers by itself.
 */
import type pg from "pg";
import { type Config, DEFAULT_DB_POOL_MAX } from "./config.ts";
import { ConnectionPool, type PoolLimits } from "./db-pool.ts";
import { tlsFor } from "./db-tls.ts";
import { type ErrorCode, KeygateError } from "./errors.ts";
import { sha256 } from "./hash.ts";
import { logError } from "./http.ts";
import { jitteredRetryAfter } from "./retry-after.ts";

/** How long a query waits for a free connection (or for a new one to open) before it is a 503. */
export const DB_CONNECTION_WAIT_MS = 5000;
/** An idle connection is closed after this long, giving its slot back to the pooler or Postgres. */
export const DB_IDLE_TIMEOUT_MS = 5000;
/** A database that accepts connections but stops answering is an outage too: a query gives up after this long. */
export const DB_QUERY_TIMEOUT_MS = 10_000;

export interface Db {
  /**
   * Runs one statement: unnamed, or with `prepared` on, as the prepared
   * statement `statementName(text)` on each connection.
   */
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  end(): Promise<void>;
}

const sqlStateCodes: Record<string, [ErrorCode, string]> = {
  KG001: ["user_inactive", "This account is disabled."],
  KG002: ["email_unverified", "The provider did not confirm this email address."],
  KG003: ["key_limit_reached", "You have reached the limit of active API keys. Revoke one first."],
  KG004: ["not_found", "Nothing here."],
  KG006: ["rate_limited", "Too many requests. Wait a minute and try again."],
};

/**
 * Connection-level failures: the database or the pooler in front of it is
 * down, restarting, saturated, or lost the session a statement needed.
 * - `08...` connection exceptions; PgBouncer sends its own refusals as
 *   `08P01` ("no more connections allowed", `query_wait_timeout`, "server
 *   login has been failing", ...).
 * - `57P..` shutdown, `53...` insufficient resources (`53300` too many
 *   connections).
 * - `26000` / `42P05`: a prepared statement missing or already there, which
 *   only a transaction pooler causes (Keygate names statements only with
 *   DB_PREPARED_STATEMENTS, which is not for such a pooler).
 * - The pool's own wait for a connection or a query timing out (db-pool.ts),
 *   node-postgres giving up a connection attempt (`timeout expired`), and
 *   sockets failing.
 */
function isUnavailable(err: { code?: string; message?: string }): boolean {
  const code = err.code ?? "";
  if (/^(08|57P|53)/.test(code) || code === "26000" || code === "42P05") return true;
  if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"].includes(code)) return true;
  const message = err.message ?? "";
  return /timeout exceeded when trying to connect|Query read timeout|^timeout expired$|Connection terminated|connection.*(closed|ended)|Client has encountered a connection error|no more connections allowed|query_wait_timeout|server login has been failing|pgbouncer cannot connect|max client connections reached/i.test(
    message,
  );
}

export function mapDbError(err: unknown): unknown {
  if (err instanceof KeygateError || typeof err !== "object" || err === null) return err;
  const e = err as { code?: string; message?: string };
  const mapped = e.code ? sqlStateCodes[e.code] : undefined;
  if (mapped) {
    const headers: Record<string, string> = mapped[0] === "rate_limited" ? { "retry-after": "60" } : {};
    return new KeygateError(mapped[0], mapped[1], { headers });
  }
  // Input the SQL refused (bad value, check constraint, duplicate): the
  // caller's fault, never a 500. Handlers validate first; this is the net.
  if (e.code === "23505") return new KeygateError("conflict", "That already exists.");
  if (e.code && /^2[23]/.test(e.code)) {
    return new KeygateError("validation_failed", "A value in the request is not acceptable.");
  }
  if (isUnavailable(e)) {
    return new KeygateError("service_unavailable", "The service is temporarily unavailable. Try again shortly.", {
      headers: { "retry-after": jitteredRetryAfter() },
      cause: err,
    });
  }
  return err;
}

const names = new Map<string, string>();

/**
 * The prepared-statement name for `text`, used only when `prepared` is on:
 * `keygate_` and the first 64 bits of the text's SHA-256, so the same text
 * always has the same name and callers never choose one.
 */
export function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    const digest = sha256(text).subarray(0, 8);
    name = `keygate_${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}`;
    names.set(text, name);
  }
  return name;
}

const pools = new Map<string, Db>();

/**
 * The isolate's database handle for `url`. Every function imported into one
 * isolate shares one pool per URL and size: on Supabase each function is its
 * own isolate anyway, and locally (scripts/serve.ts runs every function in one
 * isolate) it keeps the connection count bounded. The pool holds at most
 * `max` connections (the connection budget, docs/deploy.md, "Connection budget"),
 * closes idle ones after DB_IDLE_TIMEOUT_MS, lets a query wait at most
 * DB_CONNECTION_WAIT_MS for one and run at most DB_QUERY_TIMEOUT_MS (each to
 * within a quarter second, see db-pool.ts). TLS follows `tlsFor`. `prepared` names
 * statements (never through a transaction-mode pooler).
 */
export function createDb(url: string, options: { max?: number; prepared?: boolean } = {}): Db {
  const max = options.max ?? DEFAULT_DB_POOL_MAX;
  const prepared = options.prepared ?? false;
  const key = `${max}|${prepared}|${url}`;
  const existing = pools.get(key);
  if (existing) return existing;

  const settings = poolSettingsFor(url, max);
  // A connection lost while idle must not crash the isolate; the pool drops it.
  const pool = new ConnectionPool(settings.client, settings.limits, (err: Error & { code?: string }) =>
    logError("database connection lost", { code: err.code }),
  );
  let ended: Promise<void> | undefined;
  const db: Db = {
    async query<R>(text: string, values: unknown[] = []): Promise<R[]> {
      try {
        const result = await pool.query(prepared ? { name: statementName(text), text, values } : { text, values });
        return result.rows as R[];
      } catch (err) {
        throw mapDbError(err);
      }
    },
    end() {
      pools.delete(key);
      ended ??= pool.end();
      return ended;
    },
  };
  pools.set(key, db);
  return db;
}

/**
 * What `createDb` gives each node-postgres client for `url` (its TLS) and the
 * pool's limits (the connection budget), for tests of both decisions.
 */
export function poolSettingsFor(
  url: string,
  max: number = DEFAULT_DB_POOL_MAX,
): { client: pg.ClientConfig; limits: PoolLimits } {
  const ssl = tlsFor(url);
  return {
    client: { connectionString: url, ...(ssl === undefined ? {} : { ssl }) },
    limits: { max, waitMs: DB_CONNECTION_WAIT_MS, queryTimeoutMs: DB_QUERY_TIMEOUT_MS, idleMs: DB_IDLE_TIMEOUT_MS },
  };
}

/** The database a function's configuration names, or a clear start-up error without one. */
export function openDb(config: Pick<Config, "databaseUrl" | "dbPoolMax" | "dbPreparedStatements">): Db {
  if (!config.databaseUrl) throw new Error("Set DATABASE_URL (or SUPABASE_DB_URL).");
  return createDb(config.databaseUrl, { max: config.dbPoolMax, prepared: config.dbPreparedStatements });
}
