// Types for scripts/embedded-db.mjs.
export function startEmbeddedDatabase(options?: { dataDir?: string; host?: string; maxConnections?: number }): Promise<{
  url: string;
  stop(): Promise<void>;
}>;
