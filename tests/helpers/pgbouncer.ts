/**
 * The test stack's transaction-mode pooler (PgBouncer, `pool_mode =
 * transaction`), shared with the bench: see scripts/pgbouncer.mjs. A suite
 * that needs it skips with one visible line where it is not installed, and
 * fails instead under KEYGATE_REQUIRE_ALL=1 (set by .ci/run).
 */
import { PGBOUNCER_INSTALL_HINT, pgbouncerBinary } from "../../scripts/pgbouncer.mjs";

export {
  PGBOUNCER_INSTALL_HINT,
  pgbouncerBinary,
  type RunningPgBouncer,
  startPgBouncer,
} from "../../scripts/pgbouncer.mjs";

/**
 * Null when PgBouncer can run here; otherwise the reason, printed once as a
 * skip line (or thrown under KEYGATE_REQUIRE_ALL=1 by the suite).
 */
export function pgbouncerMissing(suite: string): string | null {
  if (pgbouncerBinary()) return null;
  const reason = `pgbouncer is not installed (${PGBOUNCER_INSTALL_HINT})`;
  if (process.env.KEYGATE_REQUIRE_ALL !== "1") console.log(`skipping ${suite}: ${reason}`);
  return reason;
}
