/**
 * Configuration from the environment (DESIGN.md section 6). `loadConfig` is
 * pure: the entry files hand it `Deno.env.toObject()`, tests hand it a record.
 */

export type Env = Record<string, string | undefined>;

/**
 * Connections each isolate may hold (DB_POOL_MAX). Four, as Supabase's own
 * server library defaults to: measured, one holds an isolate back and more
 * than four bought no clear throughput on the cold key path, while many
 * isolates times a large pool exhaust a small project (README, "Database
 * connections").
 */
export const DEFAULT_DB_POOL_MAX = 4;

export interface OAuthClientConfig {
  clientId: string;
  clientSecret: string;
}

export interface OidcConfig extends OAuthClientConfig {
  issuer: string;
  name: string;
}

export interface Config {
  port: number;
  publicUrl: string;
  databaseUrl: string | undefined;
  dbPoolMax: number;
  /** Named (prepared) statements: only for a direct or session-mode connection (DB_PREPARED_STATEMENTS). */
  dbPreparedStatements: boolean;
  production: boolean;
  sessionSecret: string | undefined;
  github: OAuthClientConfig | undefined;
  google: OAuthClientConfig | undefined;
  oidc: OidcConfig | undefined;
  allowedRedirectOrigins: string[];
  apiKeyPrefix: string;
  supabaseJwks: string | undefined;
  supabaseJwksUrl: string | undefined;
  allowBrowserKeys: boolean;
}

// A plain check rather than zod: this module is in every function's isolate,
// verify-key's included, where zod would be the only user (about 9 MB of it).
function apiKeyPrefix(value: string): string {
  if (!/^[a-z][a-z0-9]{0,15}$/.test(value)) {
    throw new Error("API_KEY_PREFIX must be 1-16 lowercase letters or digits, starting with a letter");
  }
  return value;
}

function present(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function pair(id: string | undefined, secret: string | undefined, name: string): OAuthClientConfig | undefined {
  if (!present(id) && !present(secret)) return undefined;
  if (!present(id) || !present(secret)) {
    throw new Error(`${name}: set both the client id and the client secret, or neither`);
  }
  return { clientId: present(id)!, clientSecret: present(secret)! };
}

/** True for loopback hosts, where plain http is accepted (DESIGN.md section 6). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Provider and JWKS URLs must be https, except on loopback hosts. */
export function assertSecureUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} is not a valid URL`);
  }
  if (url.protocol === "https:") return value;
  if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return value;
  throw new Error(`${name} must use https (http is accepted only on loopback hosts)`);
}

function dbPreparedStatements(value: string | undefined): boolean {
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  throw new Error("DB_PREPARED_STATEMENTS must be true or false");
}

export function loadConfig(env: Env): Config {
  const port = Number(present(env.PORT) ?? "54321");
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("PORT must be a port number");
  const publicUrl = (present(env.PUBLIC_URL) ?? `http://127.0.0.1:${port}`).replace(/\/+$/, "");
  const publicOrigin = new URL(publicUrl).origin;

  const oidcIssuer = present(env.OIDC_ISSUER);
  const oidcClient = pair(env.OIDC_CLIENT_ID, env.OIDC_CLIENT_SECRET, "OIDC_CLIENT_ID/OIDC_CLIENT_SECRET");
  if (oidcIssuer && !oidcClient) throw new Error("OIDC_ISSUER is set: set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too");
  if (oidcIssuer) assertSecureUrl(oidcIssuer, "OIDC_ISSUER");

  const jwksUrl = present(env.SUPABASE_JWKS_URL);
  if (jwksUrl) assertSecureUrl(jwksUrl, "SUPABASE_JWKS_URL");

  const origins = (present(env.ALLOWED_REDIRECT_ORIGINS) ?? publicOrigin)
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean)
    .map((o) => new URL(o).origin);

  const poolMax = Number(present(env.DB_POOL_MAX) ?? String(DEFAULT_DB_POOL_MAX));
  if (!Number.isInteger(poolMax) || poolMax < 1) throw new Error("DB_POOL_MAX must be a positive integer");

  return {
    port,
    publicUrl,
    databaseUrl: present(env.DATABASE_URL) ?? present(env.SUPABASE_DB_URL),
    dbPoolMax: poolMax,
    dbPreparedStatements: dbPreparedStatements(present(env.DB_PREPARED_STATEMENTS)),
    production: present(env.KEYGATE_ENV) !== "development",
    sessionSecret: present(env.SESSION_SECRET),
    github: pair(env.OAUTH_GITHUB_CLIENT_ID, env.OAUTH_GITHUB_CLIENT_SECRET, "OAUTH_GITHUB_CLIENT_ID/SECRET"),
    google: pair(env.OAUTH_GOOGLE_CLIENT_ID, env.OAUTH_GOOGLE_CLIENT_SECRET, "OAUTH_GOOGLE_CLIENT_ID/SECRET"),
    oidc: oidcIssuer && oidcClient
      ? { issuer: oidcIssuer, name: present(env.OIDC_NAME) ?? "OpenID", ...oidcClient }
      : undefined,
    allowedRedirectOrigins: [...new Set([publicOrigin, ...origins])],
    apiKeyPrefix: apiKeyPrefix(present(env.API_KEY_PREFIX) ?? "kg"),
    supabaseJwks: present(env.SUPABASE_JWKS),
    supabaseJwksUrl: jwksUrl,
    allowBrowserKeys: present(env.ALLOW_BROWSER_KEYS)?.toLowerCase() === "true",
  };
}
