/**
 * Configuration from the environment (docs/configuration.md). `loadConfig`
 * reads only its argument, no I/O: the entry files hand it `Deno.env.toObject()`,
 * tests hand it a record.
 */
import { IpRanges } from "../core/ip/ip-ranges.ts";
import {
  DEFAULT_API_KEY_PREFIX,
  DEFAULT_AUTH_LIMITS,
  DEFAULT_CACHE_TTL_MS,
  DEFAULT_CLIENT_IP_HEADER,
  DEFAULT_CREATE_PER_MINUTE,
  DEFAULT_DB_POOL_MAX,
  DEFAULT_FAILURES_PER_MINUTE,
  DEFAULT_IPV6_PREFIX,
  DEFAULT_JOB_SETTINGS,
  DEFAULT_NEW_USER_ROLE,
  DEFAULT_PROXY_CLIENT_IP_HEADER,
  MAX_CACHE_TTL_MS,
} from "./defaults.ts";
import { assertSecureUrl, type Env, httpOrigin, present, trueOrFalse, wholeNumber } from "./env.ts";

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
  /** SUPABASE_EMAIL_VERIFIED_CLAIM: a Custom Access Token Hook puts `email_verified` in the project's tokens. */
  supabaseEmailVerifiedClaim: boolean;
  allowBrowserKeys: boolean;
  /** Who the client of a request is (client-address.ts): the failure limits' buckets and the audit log. */
  clientAddress: ClientAddressSettings;
  keys: KeySettings;
  /** Limits on refused sign-ins and code exchanges (AUTH_FAILURES_PER_MINUTE, AUTH_ACCOUNT_FAILURES_PER_MINUTE). */
  authLimits: AuthLimitSettings;
  jobs: JobSettings;
  roles: RoleSettings;
}

// A plain check rather than zod: this module is in every function's isolate,
// verify-key's included, where zod would be the only user (its weight: docs/benchmark.md).
function apiKeyPrefix(value: string): string {
  if (!/^[a-z][a-z0-9]{0,15}$/.test(value)) {
    throw new Error("API_KEY_PREFIX must be 1-16 lowercase letters or digits, starting with a letter");
  }
  return value;
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

export const SUPABASE_EMAIL_UNPROVABLE =
  "Supabase access tokens are accepted (SUPABASE_URL with SUPABASE_JWKS or a JWKS URL), but no publishable key is set " +
  "(SUPABASE_PUBLISHABLE_KEYS, SUPABASE_PUBLISHABLE_KEY or SUPABASE_ANON_KEY): Keygate cannot ask Supabase Auth " +
  "whether a new user's email is confirmed, so every new Supabase user is refused (403 email_unverified). Set one of " +
  "those keys, or, if a Custom Access Token Hook adds email_verified to the project's access tokens, set " +
  "SUPABASE_EMAIL_VERIFIED_CLAIM=true.";

/**
 * Supabase bearer tokens are accepted, yet nothing could ever show a new
 * user's email confirmed: no `apikey` to ask Supabase Auth with, and no hook
 * said to put `email_verified` in the tokens. Users Keygate already knows
 * still sign in; new ones never can. Production refuses to start so
 * (loadConfig); development says so at start-up (startup-notes.ts).
 */
export function supabaseEmailUnprovable(
  config: Pick<Config, "supabaseJwks" | "supabaseJwksUrl" | "supabaseApiKey" | "supabaseEmailVerifiedClaim">,
): boolean {
  return (
    Boolean(config.supabaseJwks || config.supabaseJwksUrl) &&
    !config.supabaseApiKey &&
    !config.supabaseEmailVerifiedClaim
  );
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

  const config: Config = {
    port,
    publicUrl,
    databaseUrl: present(env.DATABASE_URL) ?? present(env.SUPABASE_DB_URL),
    dbPoolMax: poolMax,
    dbPreparedStatements: trueOrFalse(present(env.DB_PREPARED_STATEMENTS), "DB_PREPARED_STATEMENTS"),
    production: present(env.KEYGATE_ENV) !== "development",
    sessionSecret: present(env.SESSION_SECRET),
    github: pair(env.OAUTH_GITHUB_CLIENT_ID, env.OAUTH_GITHUB_CLIENT_SECRET, "OAUTH_GITHUB_CLIENT_ID/SECRET"),
    google: pair(env.OAUTH_GOOGLE_CLIENT_ID, env.OAUTH_GOOGLE_CLIENT_SECRET, "OAUTH_GOOGLE_CLIENT_ID/SECRET"),
    oidc:
      oidcIssuer && oidcClient
        ? { issuer: oidcIssuer, name: present(env.OIDC_NAME) ?? "OpenID", ...oidcClient }
        : undefined,
    allowedRedirectOrigins: [...new Set([publicOrigin, ...origins])],
    apiKeyPrefix: apiKeyPrefix(present(env.API_KEY_PREFIX) ?? DEFAULT_API_KEY_PREFIX),
    supabaseUrl,
    supabaseJwks: jwks,
    supabaseJwksUrl: jwksUrl,
    supabaseApiKey: supabaseApiKey(env),
    supabaseEmailVerifiedClaim: trueOrFalse(
      present(env.SUPABASE_EMAIL_VERIFIED_CLAIM),
      "SUPABASE_EMAIL_VERIFIED_CLAIM",
    ),
    allowBrowserKeys: present(env.ALLOW_BROWSER_KEYS)?.toLowerCase() === "true",
    clientAddress: loadClientAddressSettings(env),
    keys: loadKeySettings(env),
    authLimits: loadAuthLimitSettings(env),
    jobs: loadJobSettings(env),
    roles: loadRoleSettings(env),
  };
  if (config.production && supabaseEmailUnprovable(config)) throw new Error(SUPABASE_EMAIL_UNPROVABLE);
  return config;
}

// Settings by domain. Every variable, its default and its meaning is in the
// table in docs/configuration.md; every default is a constant of defaults.ts.

/** API keys: API_KEY_CREATE_PER_MINUTE, API_KEY_CACHE_TTL_MS, API_KEY_FAILURES_PER_MINUTE. */
export interface KeySettings {
  createPerMinute: number;
  cacheTtlMs: number;
  failuresPerMinute: number;
}

export function loadKeySettings(env: Env): KeySettings {
  return {
    createPerMinute: wholeNumber(env, "API_KEY_CREATE_PER_MINUTE", DEFAULT_CREATE_PER_MINUTE, 1, 1_000_000),
    cacheTtlMs: wholeNumber(env, "API_KEY_CACHE_TTL_MS", DEFAULT_CACHE_TTL_MS, 0, MAX_CACHE_TTL_MS),
    failuresPerMinute: wholeNumber(env, "API_KEY_FAILURES_PER_MINUTE", DEFAULT_FAILURES_PER_MINUTE, 0, 1_000_000),
  };
}

/**
 * Who the client is (client-address.ts): TRUSTED_PROXIES, CLIENT_IP_HEADER,
 * CLIENT_IPV6_PREFIX.
 */
export interface ClientAddressSettings {
  /**
   * The header that names the client, lower case; null: none. On hosted
   * Supabase it is set by the platform; on the local server it is read only
   * from a TCP peer in `trustedProxies`.
   */
  header: string | null;
  /** Proxies whose word about the client is believed (a peer of the local server, or a hop of a list header). */
  trustedProxies: IpRanges;
  /** IPv6 clients share one failure bucket per network of this prefix length (client-key.ts). */
  ipv6Prefix: number;
}

function clientIpHeader(env: Env, trustedProxies: IpRanges): string | null {
  const raw = env.CLIENT_IP_HEADER?.trim().toLowerCase();
  if (!raw) return trustedProxies.isEmpty ? DEFAULT_CLIENT_IP_HEADER : DEFAULT_PROXY_CLIENT_IP_HEADER;
  if (raw === "none") return null;
  if (!/^[a-z0-9-]{1,64}$/.test(raw)) throw new Error("CLIENT_IP_HEADER must be a header name (or none)");
  return raw;
}

export function loadClientAddressSettings(env: Env): ClientAddressSettings {
  const trustedProxies = IpRanges.parse(env.TRUSTED_PROXIES ?? "", "TRUSTED_PROXIES");
  return {
    header: clientIpHeader(env, trustedProxies),
    trustedProxies,
    ipv6Prefix: wholeNumber(env, "CLIENT_IPV6_PREFIX", DEFAULT_IPV6_PREFIX, 32, 128),
  };
}

/**
 * Refused sign-ins and refused code exchanges, per minute across the cluster:
 * AUTH_FAILURES_PER_MINUTE per client address (the address of the key
 * failure limit, CLIENT_IP_HEADER), AUTH_ACCOUNT_FAILURES_PER_MINUTE per
 * account. 0 turns a limit off.
 */
export interface AuthLimitSettings {
  failuresPerMinute: number;
  accountFailuresPerMinute: number;
}

export function loadAuthLimitSettings(env: Env): AuthLimitSettings {
  const d = DEFAULT_AUTH_LIMITS;
  return {
    failuresPerMinute: wholeNumber(env, "AUTH_FAILURES_PER_MINUTE", d.failuresPerMinute, 0, 1_000_000),
    accountFailuresPerMinute: wholeNumber(
      env,
      "AUTH_ACCOUNT_FAILURES_PER_MINUTE",
      d.accountFailuresPerMinute,
      0,
      1_000_000,
    ),
  };
}

/** The job queue: JOBS_CREATE_PER_MINUTE, JOBS_MAX_UNFINISHED, JOBS_RETENTION_DAYS, JOBS_RETRY_*_SECONDS. */
export interface JobSettings {
  createPerMinute: number;
  maxUnfinished: number;
  retentionDays: number;
  retryBaseSeconds: number;
  retryMaxSeconds: number;
}

export function loadJobSettings(env: Env): JobSettings {
  const d = DEFAULT_JOB_SETTINGS;
  const settings = {
    createPerMinute: wholeNumber(env, "JOBS_CREATE_PER_MINUTE", d.createPerMinute, 1, 1_000_000),
    maxUnfinished: wholeNumber(env, "JOBS_MAX_UNFINISHED", d.maxUnfinished, 1, 1_000_000),
    // At least a day: an Idempotency-Key lives as long as its job, and must be remembered for 24 hours.
    retentionDays: wholeNumber(env, "JOBS_RETENTION_DAYS", d.retentionDays, 1, 3650),
    retryBaseSeconds: wholeNumber(env, "JOBS_RETRY_BASE_SECONDS", d.retryBaseSeconds, 1, 86_400),
    retryMaxSeconds: wholeNumber(env, "JOBS_RETRY_MAX_SECONDS", d.retryMaxSeconds, 1, 7 * 86_400),
  };
  if (settings.retryMaxSeconds < settings.retryBaseSeconds) {
    throw new Error("JOBS_RETRY_MAX_SECONDS must not be less than JOBS_RETRY_BASE_SECONDS");
  }
  return settings;
}

/**
 * Who new users are: DEFAULT_ROLE and ADMIN_EMAILS. Both apply once, on the
 * sign-in that creates the user (keygate.record_sign_in).
 */
export interface RoleSettings {
  defaultRole: "viewer" | "member";
  adminEmails: string[];
}

export function loadRoleSettings(env: Env): RoleSettings {
  const role = env.DEFAULT_ROLE?.trim() || DEFAULT_NEW_USER_ROLE;
  if (role !== "viewer" && role !== "member") {
    throw new Error("DEFAULT_ROLE must be viewer or member (make admins with npm run admin or ADMIN_EMAILS)");
  }
  const adminEmails = (env.ADMIN_EMAILS ?? "")
    .split(",")
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
  for (const email of adminEmails) {
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new Error(`ADMIN_EMAILS: ${email} is not an email address`);
  }
  return { defaultRole: role, adminEmails };
}
