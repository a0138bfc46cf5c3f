/**
 * Runs SQL the way Supabase's Data API (PostgREST) does: inside a transaction,
 * `set local role <role>` and the JWT claims in `request.jwt.claims`, then the
 * statement, then rollback, so nothing a test does as a client persists.
 *
 * One connection, one statement at a time: safe on PGlite as on Postgres.
 */
import pg from "pg";

export type ClientRole = "anon" | "authenticated" | "service_role";

export type Outcome =
  | { ok: true; rows: Record<string, unknown>[]; rowCount: number }
  | { ok: false; code: string; message: string };

export interface SqlRunner {
  /** The statement as `role` with these claims, rolled back afterwards. */
  as(role: ClientRole, claims: Record<string, unknown>, sql: string, params?: unknown[]): Promise<Outcome>;
  /** The statement as the connection's superuser, committed (for arranging). */
  admin<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  end(): Promise<void>;
}

export async function connectRunner(url: string): Promise<SqlRunner> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let queue: Promise<unknown> = Promise.resolve();
  // Serialise whole transactions on the one connection.
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => {});
    return next;
  };

  return {
    as: (role, claims, sql, params = []) =>
      exclusive(async () => {
        await client.query("begin");
        try {
          await client.query(`set local role ${pg.escapeIdentifier(role)}`);
          await client.query("select set_config('request.jwt.claims', $1, true)", [JSON.stringify(claims)]);
          const result = await client.query(sql, params);
          return { ok: true as const, rows: result.rows, rowCount: result.rowCount ?? 0 };
        } catch (err) {
          const e = err as { code?: string; message?: string };
          return { ok: false as const, code: e.code ?? "unknown", message: e.message ?? String(err) };
        } finally {
          await client.query("rollback");
        }
      }),
    admin: (sql, params = []) => exclusive(async () => (await client.query(sql, params)).rows),
    end: () => client.end(),
  };
}
