// Types for scripts/dev-oidc.mjs, for the TypeScript tests and scripts that import it.
export declare const DEV_CLIENT_ID: string;
export declare function isLoopbackHost(hostname: string): boolean;
export declare function accountIdFor(email: string): string;
export declare function pickIdentity(
  form: URLSearchParams,
): { email: string; name: string } | { error: string; values: { name: string; email: string } };
export declare function startDevProvider(options: {
  host?: string;
  port?: number;
  publicUrl: string;
}): Promise<{ issuer: string; clientId: string; clientSecret: string; stop(): Promise<void> }>;
