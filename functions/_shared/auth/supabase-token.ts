/**
 * Verifies Supabase Auth access tokens (`Authorization: Bearer <jwt>`) with
 * jose, against SUPABASE_JWKS (inline, either form) or the JWKS URL (
 * SUPABASE_JWKS_URL, else `<SUPABASE_URL>/auth/v1/.well-known/jwks.json`;
 * cached and refreshed by jose). Checked: the signature (asymmetric keys and
 * algorithms only, so neither `none` nor a shared-secret HS256 token passes),
 * `typ: JWT`, `exp`, `iss` = `<SUPABASE_URL>/auth/v1`, `aud` and `role` =
 * `authenticated`, and a `sub`. Anonymous Supabase users are never accepted.
 *
 * Nothing the user can write decides anything here: `user_metadata` is
 * whatever the user last sent to `PUT /auth/v1/user`, so it only supplies a
 * display name and picture. The email counts as confirmed only through a
 * top-level `email_verified: true` claim, which Supabase Auth never puts in a
 * token by itself: only a Custom Access Token Hook that reads
 * `auth.users.email_confirmed_at` adds it (docs/deploy.md). Without it, the
 * caller asks Supabase Auth (supabase-auth-user.ts).
 *
 * A project still signing with the legacy shared JWT secret has no
 * asymmetric key to check against: that is said once, loudly, at start-up
 * (or at the first fetch of the key set), and every such token is refused.
 */
import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, type JSONWebKeySet, jwtVerify } from "jose";
import type { Config } from "../config/config.ts";
import { KeygateError } from "../core/errors.ts";
import { type Logger, logError } from "../core/log.ts";
import { nonBlank } from "../core/non-blank.ts";
import type { ProviderProfile } from "./oauth-provider.ts";

export const SUPABASE_AUDIENCE = "authenticated";
export const SUPABASE_ROLE = "authenticated";
const ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
];
const ASYMMETRIC_KEY_TYPES = new Set(["RSA", "EC", "OKP"]);

export const LEGACY_SECRET_MESSAGE =
  "Supabase bearer tokens: this project's key set holds no asymmetric signing key, so it still signs access tokens " +
  "with the legacy shared JWT secret. Keygate never accepts a shared-secret token: every Supabase bearer token is " +
  "refused until you migrate (Dashboard > Project Settings > JWT Keys: migrate JWT secret, then rotate to the new " +
  "asymmetric key). Cookie sign-in is unaffected.";

/** A verified token's identity. `emailVerified` is true only by a hook's claim (see above). */
export type SupabaseIdentity = ProviderProfile;

/** Resolves a bearer token to the identity it proves, or null when it proves nothing. */
export type SupabaseTokenVerifier = (token: string) => Promise<SupabaseIdentity | null>;

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function asymmetricOnly(set: { keys: Array<Record<string, unknown>> }): JSONWebKeySet {
  return { keys: set.keys.filter((k) => ASYMMETRIC_KEY_TYPES.has(String(k.kty))) } as JSONWebKeySet;
}

/** The issuer every accepted token must name. */
export function supabaseIssuer(supabaseUrl: string): string {
  return `${supabaseUrl}/auth/v1`;
}

/** Null when no key set is configured (neither SUPABASE_JWKS nor a JWKS URL). */
export function createSupabaseTokenVerifier(
  config: Pick<Config, "supabaseUrl" | "supabaseJwks" | "supabaseJwksUrl">,
  deps: { fetchImpl?: typeof fetch; now?: () => number; log?: Logger } = {},
): SupabaseTokenVerifier | null {
  const fetchImpl = deps.fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
  const now = deps.now ?? Date.now;
  const log = deps.log ?? logError;
  if (!config.supabaseUrl || (!config.supabaseJwks && !config.supabaseJwksUrl)) return null;
  const issuer = supabaseIssuer(config.supabaseUrl);
  let warned = false;
  const warnLegacy = () => {
    if (!warned) log(LEGACY_SECRET_MESSAGE);
    warned = true;
  };

  let keys: ReturnType<typeof createLocalJWKSet> | ReturnType<typeof createRemoteJWKSet>;
  if (config.supabaseJwks) {
    const set = asymmetricOnly(config.supabaseJwks);
    if (set.keys.length === 0) warnLegacy();
    keys = createLocalJWKSet(set);
  } else if (config.supabaseJwksUrl) {
    keys = createRemoteJWKSet(new URL(config.supabaseJwksUrl), {
      [customFetch]: async (url, options) => {
        const response = await fetchImpl(url, options as RequestInit);
        // An error status is an outage (503 below), not a bad token.
        if (!response.ok) throw new Error(`the JWKS endpoint answered ${response.status}`);
        const body = await response
          .clone()
          .json()
          .catch(() => null);
        if (Array.isArray(body?.keys) && asymmetricOnly(body).keys.length === 0) warnLegacy();
        return response;
      },
      timeoutDuration: 5000,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
  } else {
    return null; // unreachable: the guard above returned already
  }

  return async (token) => {
    if (token.length > 8192) return null;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: ALGORITHMS,
        issuer,
        audience: SUPABASE_AUDIENCE,
        typ: "JWT",
        currentDate: new Date(now()),
        requiredClaims: ["sub", "exp", "iss"],
      }));
    } catch (err) {
      // A key set that cannot be fetched is our outage, not the caller's fault.
      if (
        err instanceof errors.JWKSTimeout ||
        err instanceof errors.JWKSInvalid ||
        !(err instanceof errors.JOSEError)
      ) {
        throw new KeygateError("service_unavailable", "Supabase Auth keys are unavailable. Try again shortly.", {
          headers: { "retry-after": "5" },
        });
      }
      return null;
    }
    const subject = nonBlank(payload.sub);
    if (!subject || payload.role !== SUPABASE_ROLE || payload.is_anonymous === true) return null;
    const meta = record(payload.user_metadata);
    return {
      subject,
      email: nonBlank(payload.email),
      // Top level only, never user_metadata: see the header comment.
      emailVerified: payload.email_verified === true,
      name: nonBlank(meta.full_name) ?? nonBlank(meta.name),
      imageUrl: nonBlank(meta.avatar_url) ?? nonBlank(meta.picture),
    };
  };
}
