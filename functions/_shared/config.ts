/**
 * Configuration from the environment (DESIGN.md section 6). `loadConfig` is
 * pure: the entry files hand it `Deno.env.toObject()`, tests hand it a record.
 */
import { isLoopbackHost } from "./loopback.js";
import { nonBlank } from "./non-blank.ts";

export type Env = Record<string, string | undefined>;

/**
 * Connections each isolate may hold (DB_POOL_MAX). Four, as Supabase's own
 * server library defaults to: measured, more bought no throughput on the cold
 * key path, and many isolates times a large pool exhaust a small project
 * (README, "Connection budget").
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

/** A JSON Web Key Set, as jose reads it (kept structural so this module imports nothing). */
export interface JsonWebKeySet {
  keys: Array<Record<string, unknown>>;
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
  /** SUPABASE_URL without a trailing slash: Supabase Auth lives at `<it>/auth/v1`. */
  supabaseUrl: string | undefined;
  /** SUPABASE_JWKS, parsed (either form); undefined when not set. */
  supabaseJwks: JsonWebKeySet | undefined;
  /** SUPABASE_JWKS_URL, else `<SUPABASE_URL>/auth/v1/.well-known/jwks.json` when SUPABASE_JWKS is absent. */
  supabaseJwksUrl: string | undefined;
  /** The key Supabase's gateway wants in `apikey` (a publishable key, else the legacy anon key). */
  supabaseApiKey: string | undefined;
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
  return nonBlank(value) ?? undefined;
}

function pair(id: string | undefined, secret: string | undefined, name: string): OAuthClientConfig | undefined {
  if (!present(id) && !present(secret)) return undefined;
  const clientId = present(id);
  const clientSecret = present(secret);
  if (!clientId || !clientSecret) {
    throw new Error(`${name}: set both the client id and the client secret, or neither`);
  }
  return { clientId, clientSecret };
}

export { isLoopbackHost };

/** PUBLIC_URL's origin; PUBLIC_URL itself may have a path, but must be http(s). */
function publicUrlOrigin(publicUrl: string): string {
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    throw new Error(`PUBLIC_URL: "${publicUrl}" is not a URL; write it as scheme://host[:port][/path]`);
  }
  if (
    (url.protocol !== "https:" && url.protocol !== "http:") ||
    url.origin === "null" ||
    url.username ||
    url.password
  ) {
    throw new Error(`PUBLIC_URL: "${publicUrl}" must be an http(s) URL without credentials`);
  }
  return url.origin;
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

/**
 * SUPABASE_JWKS as Supabase sets it on hosted functions: a JWKS object
 * (`{"keys": [...]}`) or a bare array of keys.
 */
export function parseSupabaseJwks(value: string): JsonWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error('SUPABASE_JWKS is not valid JSON (expected {"keys": [...]} or a bare array of keys)');
  }
  const keys = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "object" && k !== null && !Array.isArray(k))) {
    throw new Error('SUPABASE_JWKS must be {"keys": [...]} or a bare array of keys');
  }
  return { keys };
}

/** The `apikey` for Supabase's gateway: SUPABASE_PUBLISHABLE_KEYS (a JSON object of named keys), else the single forms. */
function supabaseApiKey(env: Env): string | undefined {
  const named = present(env.SUPABASE_PUBLISHABLE_KEYS);
  if (named) {
    try {
      const keys = JSON.parse(named) as Record<string, unknown>;
      const key = keys?.default ?? Object.values(keys ?? {})[0];
      if (typeof key === "string" && key.trim()) return key.trim();
    } catch {
      throw new Error('SUPABASE_PUBLISHABLE_KEYS is not valid JSON (expected {"default": "sb_publishable_..."})');
    }
  }
  return present(env.SUPABASE_PUBLISHABLE_KEY) ?? present(env.SUPABASE_ANON_KEY);
}

/**
 * An http(s) origin and nothing else: no path, query, fragment or credentials.
 * Anything else (a host without a scheme, `file:`, `data:`) would become the
 * opaque origin "null", which any sandboxed page can send as its `Origin`.
 */
export function httpOrigin(value: string, name: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  const bare =
    url !== undefined &&
    (url.protocol === "https:" || url.protocol === "http:") &&
    url.username === "" &&
    url.password === "" &&
    url.pathname === "/" &&
    !/[?#]/.test(value);
  if (!url || !bare || url.origin === "null") {
    throw new Error(
      `${name}: "${value}" is not an http(s) origin; write it as scheme://host[:port], e.g. https://app.example.com`,
    );
  }
  return url.origin;
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
  const publicOrigin = publicUrlOrigin(publicUrl);

  const oidcIssuer = present(env.OIDC_ISSUER);
  const oidcClient = pair(env.OIDC_CLIENT_ID, env.OIDC_CLIENT_SECRET, "OIDC_CLIENT_ID/OIDC_CLIENT_SECRET");
  if (oidcIssuer && !oidcClient) throw new Error("OIDC_ISSUER is set: set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too");
  if (oidcIssuer) assertSecureUrl(oidcIssuer, "OIDC_ISSUER");

  const supabaseUrl = present(env.SUPABASE_URL)?.replace(/\/+$/, "");
  if (supabaseUrl) assertSecureUrl(supabaseUrl, "SUPABASE_URL");
  const jwksText = present(env.SUPABASE_JWKS);
  const jwks = jwksText ? parseSupabaseJwks(jwksText) : undefined;
  const jwksUrl =
    present(env.SUPABASE_JWKS_URL) ??
    (supabaseUrl && !jwks ? `${supabaseUrl}/auth/v1/.well-known/jwks.json` : undefined);
  if (jwksUrl) assertSecureUrl(jwksUrl, "SUPABASE_JWKS_URL");
  // The issuer comes from SUPABASE_URL: without it, a token of any project signed by a key in the set would pass.
  if ((jwks || jwksUrl) && !supabaseUrl) {
    throw new Error(
      "SUPABASE_JWKS or SUPABASE_JWKS_URL is set: set SUPABASE_URL too (the project URL; tokens must come from <SUPABASE_URL>/auth/v1)",
    );
  }

  const origins = (present(env.ALLOWED_REDIRECT_ORIGINS) ?? publicOrigin)
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean)
    .map((o) => httpOrigin(o, "ALLOWED_REDIRECT_ORIGINS"));

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
    oidc:
      oidcIssuer && oidcClient
        ? { issuer: oidcIssuer, name: present(env.OIDC_NAME) ?? "OpenID", ...oidcClient }
        : undefined,
    allowedRedirectOrigins: [...new Set([publicOrigin, ...origins])],
    apiKeyPrefix: apiKeyPrefix(present(env.API_KEY_PREFIX) ?? "kg"),
    supabaseUrl,
    supabaseJwks: jwks,
    supabaseJwksUrl: jwksUrl,
    supabaseApiKey: supabaseApiKey(env),
    allowBrowserKeys: present(env.ALLOW_BROWSER_KEYS)?.toLowerCase() === "true",
  };
}
