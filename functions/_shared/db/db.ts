/**
 * The database handle every function uses: node-postgres clients in a small
 * pool of our own (pool.ts, and why) behind a two-method interface, with
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
 * Errors are mapped in errors.ts (the whole SQLSTATE table); the pool
 * replaces broken connections, so service recovers by itself.
 */
import type pg from "pg";
import type { Config } from "../config/config.ts";
import { DEFAULT_DB_POOL_MAX } from "../config/defaults.ts";
import { sha256 } from "../core/hash.ts";
import { logError } from "../core/log.ts";
import { mapDbError } from "./errors.ts";
import { ConnectionPool, type PoolLimits } from "./pool.ts";
import { tlsFor } from "./tls.ts";

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
 * within a quarter second, see pool.ts). TLS follows `tlsFor`. `prepared` names
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
