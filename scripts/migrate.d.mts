// Types for scripts/migrate.mjs, imported by the tests and the bench.
/** Resolves to what the Supabase CLI printed. */
export function migrate(databaseUrl: string, options?: { quiet?: boolean; workdir?: string }): Promise<string>;
export function cliUrl(databaseUrl: string): string;
export function isSupabaseProject(client: { query(sql: string): Promise<{ rows: Array<{ yes: boolean }> }> }): Promise<boolean>;
