// Types for scripts/migrate.mjs, imported by the tests and the bench.
/** Resolves to what the Supabase CLI printed. */
export function migrate(
  databaseUrl: string,
  options?: { quiet?: boolean; workdir?: string; spawnImpl?: typeof import("node:child_process").spawn },
): Promise<string>;
export function cliUrl(databaseUrl: string): string;
/** The `supabase db push` arguments (no password) and environment (PGPASSWORD) for a database URL. */
export function cliInvocation(databaseUrl: string, env?: Record<string, string | undefined>): {
  args: string[];
  env: Record<string, string | undefined>;
};
export function isSupabaseProject(client: { query(sql: string): Promise<{ rows: Array<{ yes: boolean }> }> }): Promise<boolean>;
