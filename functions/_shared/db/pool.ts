/**
 * The connection pool behind `createDb` (db.ts): at most `max` node-postgres
 * clients per isolate; a query waits at most `waitMs` for one (or for a new
 * one to connect) and runs at most `queryTimeoutMs`; a client idle for
 * `idleMs` is closed, giving its slot back to the pooler or Postgres.
 *
 * Why not node-postgres's own pool (pg-pool), which has the same three
 * limits: it keeps each with a timer per use (a timer per checkout for
 * `connectionTimeoutMillis`, per query for `query_timeout`, per return to the
 * idle list for `idleTimeoutMillis`). Under Deno's Node timers those cost
 * about 25 us of CPU per query, measured, and took about 15% of the
 * throughput of uncached key checks through a transaction pooler
 * (docs/benchmark.md). Here one timer per pool, running only while the
 * pool holds a client or a waiting query, checks every limit each `sweepMs`:
 * each limit holds to within `sweepMs`.
 *
 * Clients stay open after an error that Postgres reported for the statement
 * alone (a unique violation, a custom SQLSTATE such as a rate limit), so
 * such errors cause no reconnects. A client whose connection failed, or
 * whose query ran out of time, is closed and replaced on demand. A statement
 * that ran out of time is also cancelled on the server (cancel.ts; pg-pool
 * does not): its connection is closed once the server has ended it, or
 * after `waitMs` at the latest, and holds its slot until then, so a slow
 * database is not handed a new connection per stuck statement.
 *
 * Failures carry the same messages as node-postgres's (`timeout exceeded
 * when trying to connect`, `Query read timeout`), which db.ts maps to 503.
 */
import pg from "pg";
import { cancelStatement } from "./cancel.ts";

export interface PoolLimits {
  /** Clients open or opening at once. */
  max: number;
  /** How long a query may wait for a client, including opening a new one. */
  waitMs: number;
  /** How long a query may run once sent. */
  queryTimeoutMs: number;
  /** How long a client may sit unused before it is closed. */
  idleMs: number;
  /** How often the limits are checked (default 250 ms). */
  sweepMs?: number;
}

/** A query on its way: waiting for a client, then running on one. */
interface Run {
  config: pg.QueryConfig;
  /** When it started waiting, then when it was sent. */
  since: number;
  client: pg.Client | null;
  settled: boolean;
  /** Set once the query ran out of time: called when its statement ends on the server after all. */
  ended?: () => void;
  resolve: (result: pg.QueryResult) => void;
  reject: (err: Error) => void;
}

interface IdleClient {
  client: pg.Client;
  since: number;
}

const DEFAULT_SWEEP_MS = 250;
/** node-postgres's own words for a wait that ran out, which db.ts maps to 503 with the rest. */
const WAITED_TOO_LONG = "timeout exceeded when trying to connect";

/**
 * Errors that say the connection's own state is wrong, not the statement: a
 * prepared statement missing or already there (`26000`, `42P05`: a pooler
 * swapped the server under a named statement) or a cached plan whose result
 * type changed (`0A000`, after a migration). The client caches names and
 * plans, so only a new connection clears them.
 */
const CONNECTION_STATE_CODES = new Set(["26000", "42P05", "0A000"]);

/** An error Postgres reported for one statement: the connection itself is fine. */
function statementError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    typeof code === "string" &&
    /^[0-9A-Z]{5}$/.test(code) &&
    !/^(08|53|57|58|XX)/.test(code) &&
    !CONNECTION_STATE_CODES.has(code)
  );
}

export class ConnectionPool {
  readonly #clientConfig: pg.ClientConfig;
  readonly #limits: Required<PoolLimits>;
  readonly #onIdleError: (err: Error) => void;
  readonly #now: () => number;
  /** Most recently used last: the busy few stay warm, the rest go idle and close. */
  readonly #idle: IdleClient[] = [];
  readonly #waiting: Run[] = [];
  /** Queries whose new client is still connecting. */
  readonly #connecting = new Set<Run>();
  readonly #running = new Set<Run>();
  #open = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #ending: Promise<void> | undefined;
  #ended: (() => void) | undefined;

  /**
   * `clientConfig` is what each node-postgres client gets (URL, TLS);
   * `onIdleError` hears about connections lost while idle (they are dropped).
   */
  constructor(
    clientConfig: pg.ClientConfig,
    limits: PoolLimits,
    onIdleError: (err: Error) => void = () => {},
    now: () => number = Date.now,
  ) {
    if (!(Number.isInteger(limits.max) && limits.max >= 1)) throw new RangeError("max must be a whole number >= 1");
    this.#limits = { sweepMs: DEFAULT_SWEEP_MS, ...limits };
    // The sweep fails a query that waited too long; a connection attempt still
    // hanging a little later is abandoned by node-postgres's own timer (one per
    // connection opened), which frees its slot.
    this.#clientConfig = { ...clientConfig, connectionTimeoutMillis: limits.waitMs + 2 * this.#limits.sweepMs };
    this.#onIdleError = onIdleError;
    this.#now = now;
  }

  /** Clients open or opening. */
  get openCount(): number {
    return this.#open;
  }

  get idleCount(): number {
    return this.#idle.length;
  }

  get waitingCount(): number {
    return this.#waiting.length;
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    return new Promise<pg.QueryResult<R>>((resolve, reject) => {
      if (this.#ending) {
        reject(new Error("Cannot use a pool after calling end on the pool"));
        return;
      }
      const run: Run = {
        config,
        since: this.#now(),
        client: null,
        settled: false,
        resolve: resolve as (result: pg.QueryResult) => void,
        reject,
      };
      const idle = this.#idle.pop();
      if (idle) this.#send(idle.client, run);
      else if (this.#open < this.#limits.max) this.#connect(run);
      else this.#waiting.push(run);
      this.#arm();
    });
  }

  /**
   * Refuses new queries, lets every query already accepted finish (waiting,
   * connecting or running), and closes each client as it comes free.
   */
  end(): Promise<void> {
    if (this.#ending) return this.#ending;
    this.#ending = new Promise<void>((resolve) => {
      this.#ended = resolve;
    });
    for (const { client } of this.#idle.splice(0)) this.#close(client);
    this.#settleEnd();
    return this.#ending;
  }

  #connect(run: Run): void {
    this.#open++;
    this.#connecting.add(run);
    const client = new pg.Client(this.#clientConfig);
    // Without a listener a lost connection would be an uncaught error.
    client.on("error", (err) => this.#lostWhileIdle(client, err));
    client.connect().then(
      () => {
        this.#connecting.delete(run);
        // A query that gave up waiting meanwhile leaves the client to the next one.
        this.#ready(client, run);
      },
      (err: Error) => {
        this.#connecting.delete(run);
        this.#open--;
        this.#fail(run, err);
        this.#next();
      },
    );
  }

  /** A client is free: to the query that asked for it, else to the oldest waiting query, else idle. */
  #ready(client: pg.Client, run: Run | undefined): void {
    const next = run && !run.settled ? run : this.#waiting.shift();
    if (next) this.#send(client, next);
    else if (this.#ending) this.#close(client);
    else this.#idle.push({ client, since: this.#now() });
  }

  #send(client: pg.Client, run: Run): void {
    run.client = client;
    run.since = this.#now();
    this.#running.add(run);
    client.query(run.config, (err: Error | undefined, result: pg.QueryResult) => {
      // Settled already: the query ran out of time and is being cancelled.
      if (run.settled) {
        run.ended?.();
        return;
      }
      run.settled = true;
      this.#running.delete(run);
      if (!err) {
        run.resolve(result);
        this.#ready(client, undefined);
        return;
      }
      run.reject(err);
      if (statementError(err)) this.#ready(client, undefined);
      else this.#close(client);
    });
  }

  /** Cancels a timed-out statement on the server, then closes its client (at the latest after waitMs). */
  #cancel(run: Run): void {
    const client = run.client as pg.Client;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      clearTimeout(bound);
      this.#close(client);
    };
    run.ended = close;
    const bound = setTimeout(close, this.#limits.waitMs);
    void cancelStatement(client, this.#clientConfig.ssl, this.#limits.waitMs);
  }

  #fail(run: Run, err: Error): void {
    if (run.settled) return;
    run.settled = true;
    run.reject(err);
  }

  /** Closes a client and lets a waiting query open a new one in its place. */
  #close(client: pg.Client): void {
    this.#open--;
    client.end().catch(() => {});
    this.#next();
  }

  #next(): void {
    const run = this.#waiting.shift();
    if (run) this.#connect(run);
    else this.#settleEnd();
  }

  #lostWhileIdle(client: pg.Client, err: Error): void {
    const at = this.#idle.findIndex((idle) => idle.client === client);
    // A client in use reports the failure through its query instead.
    if (at === -1) return;
    this.#idle.splice(at, 1);
    this.#onIdleError(err);
    this.#close(client);
  }

  #settleEnd(): void {
    if (this.#ended && this.#open === 0) {
      this.#ended();
      this.#ended = undefined;
    }
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    // Stopped by the sweep once the pool holds nothing (idle clients close within idleMs).
    this.#timer = setInterval(() => this.#sweep(), this.#limits.sweepMs);
  }

  #sweep(): void {
    const now = this.#now();
    const { waitMs, queryTimeoutMs, idleMs } = this.#limits;
    while (this.#waiting.length > 0 && now - this.#waiting[0].since >= waitMs) {
      this.#fail(this.#waiting.shift() as Run, new Error(WAITED_TOO_LONG));
    }
    for (const run of this.#connecting) {
      if (now - run.since >= waitMs) this.#fail(run, new Error(WAITED_TOO_LONG));
    }
    for (const run of this.#running) {
      if (now - run.since < queryTimeoutMs) continue;
      run.settled = true;
      this.#running.delete(run);
      run.reject(new Error("Query read timeout"));
      this.#cancel(run);
    }
    // Oldest first: the idle list is in order of return.
    while (this.#idle.length > 0 && now - this.#idle[0].since >= idleMs) {
      this.#close((this.#idle.shift() as IdleClient).client);
    }
    if (this.#open === 0 && this.#waiting.length === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
