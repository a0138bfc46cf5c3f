/**
 * The database handle every function uses: a node-postgres pool (chosen by a
 * sustained benchmark, DESIGN.md section 4) behind a two-method interface, with
 * database errors mapped to KeygateErrors in one place.
 *
 * SQL functions raise custom SQLSTATEs (see the migrations) that map to codes
 * here; a database that cannot be reached becomes a 503 `service_unavailable`
 * and the pool replaces broken connections, so service recovers by itself.
 */
import pg from "pg";
import type { Config } from "./config.ts";
import { type ErrorCode, KeygateError } from "./errors.ts";
import { logError } from "./http.ts";

export interface Db {
  /** Runs one statement; `name` makes it a prepared statement per connection. */
  query<R = Record<string, unknown>>(text: string, values?: unknown[], name?: string): Promise<R[]>;
  end(): Promise<void>;
}

const sqlStateCodes: Record<string, [ErrorCode, string]> = {
  KG001: ["user_inactive", "This account is disabled."],
  KG002: ["email_unverified", "The provider did not confirm this email address."],
  KG003: ["key_limit_reached", "You have reached the limit of active API keys. Revoke one first."],
  KG004: ["not_found", "Nothing here."],
  KG006: ["rate_limited", "Too many requests. Wait a minute and try again."],
};

/** Connection-level failures: the database is down, restarting or saturated. */
function isUnavailable(err: { code?: string; message?: string }): boolean {
  const code = err.code ?? "";
  if (/^(08|57P|53)/.test(code)) return true; // connection exception, shutdown, insufficient resources
  if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"].includes(code)) return true;
  const message = err.message ?? "";
  return /timeout exceeded when trying to connect|Query read timeout|Connection terminated|connection.*(closed|ended)|Client has encountered a connection error/i
    .test(message);
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
      headers: { "retry-after": "1" },
      cause: err,
    });
  }
  return err;
}

const pools = new Map<string, Db>();

/**
 * The isolate's database handle for `url`. Every function imported into one
 * isolate shares one pool per URL and size: on Supabase each function is its
 * own isolate anyway, and locally (scripts/serve.ts runs every function in one
 * isolate) it keeps the connection count bounded. With `max: 1` all statements
 * use a single connection, which the embedded PGlite needs: its socket server
 * multiplexes every connection onto one session, where named prepared
 * statements of different connections would collide.
 */
export function createDb(url: string, options: { max?: number } = {}): Db {
  const max = options.max ?? 10;
  const key = `${max}|${url}`;
  const existing = pools.get(key);
  if (existing) return existing;

  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: 3000,
    // A database that accepts connections but stops answering is an outage too.
    query_timeout: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the isolate; the pool drops it.
  pool.on("error", (err: Error & { code?: string }) => logError("database connection lost", { code: err.code }));
  let ended: Promise<void> | undefined;
  const db: Db = {
    async query<R>(text: string, values: unknown[] = [], name?: string): Promise<R[]> {
      try {
        const result = await pool.query(name ? { name, text, values } : { text, values });
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

/** The database a function's configuration names, or a clear start-up error without one. */
export function openDb(config: Pick<Config, "databaseUrl" | "dbPoolMax">): Db {
  if (!config.databaseUrl) throw new Error("Set DATABASE_URL (or SUPABASE_DB_URL).");
  return createDb(config.databaseUrl, { max: config.dbPoolMax });
}
