// Types for scripts/pgbouncer.mjs.
export const PGBOUNCER_INSTALL_HINT: string;
export function pgbouncerBinary(): string | null;
export interface RunningPgBouncer {
  port: number;
  pid: number | undefined;
  /** `databaseUrl` with its host and port swapped for the pooler's. */
  urlFor(databaseUrl: string): string;
  /** Everything it logged (for diagnosing a failure). */
  log(): string;
  stop(): Promise<void>;
}
export function startPgBouncer(options: {
  target: string;
  poolSize?: number;
  maxClientConn?: number;
  queryWaitTimeout?: number;
}): Promise<RunningPgBouncer>;
