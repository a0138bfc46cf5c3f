/**
 * Verifies Supabase Auth access tokens (`Authorization: Bearer <jwt>`) with
 * jose, against SUPABASE_JWKS (an inline JWKS) or SUPABASE_JWKS_URL (a remote
 * set, cached and refreshed by jose). Checks the signature (asymmetric
 * algorithms only, so neither `none` nor a shared-secret HS256 token passes),
 * `exp`, and `aud` = `authenticated`.
 *
 * The email counts as verified only when the token says so: a top-level
 * `email_verified: true` or `user_metadata.email_verified: true` (Supabase
 * Auth sets the latter once the address is confirmed or a provider vouched for
 * it). Anonymous Supabase users (`is_anonymous`) are never accepted.
 */
import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, type JSONWebKeySet, jwtVerify } from "jose";
import type { Config } from "../config.ts";
import { KeygateError } from "../errors.ts";
import type { ProviderProfile } from "./oauth-provider.ts";

export const SUPABASE_AUDIENCE = "authenticated";
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

/** Resolves a bearer token to the identity it proves, or null when it proves nothing. */
export type SupabaseTokenVerifier = (token: string) => Promise<ProviderProfile | null>;

function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {};
}

/** Null when neither SUPABASE_JWKS nor SUPABASE_JWKS_URL is set. */
export function createSupabaseTokenVerifier(
  config: Pick<Config, "supabaseJwks" | "supabaseJwksUrl">,
  deps: { fetchImpl?: typeof fetch; now?: () => number } = {},
): SupabaseTokenVerifier | null {
  const fetchImpl = deps.fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
  const now = deps.now ?? Date.now;
  let keys: ReturnType<typeof createLocalJWKSet> | ReturnType<typeof createRemoteJWKSet>;
  if (config.supabaseJwks) {
    let jwks: JSONWebKeySet;
    try {
      jwks = JSON.parse(config.supabaseJwks);
    } catch {
      throw new Error("SUPABASE_JWKS is not valid JSON (expected a JWKS: {\"keys\": [...]})");
    }
    keys = createLocalJWKSet(jwks);
  } else if (config.supabaseJwksUrl) {
    keys = createRemoteJWKSet(new URL(config.supabaseJwksUrl), {
      [customFetch]: async (url, options) => {
        const response = await fetchImpl(url, options as RequestInit);
        // An error status is an outage (503 below), not a bad token.
        if (!response.ok) throw new Error(`the JWKS endpoint answered ${response.status}`);
        return response;
      },
      timeoutDuration: 5000,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
  } else {
    return null;
  }

  return async (token) => {
    if (token.length > 8192) return null;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: ALGORITHMS,
        audience: SUPABASE_AUDIENCE,
        currentDate: new Date(now()),
        requiredClaims: ["sub", "exp"],
      }));
    } catch (err) {
      // A key set that cannot be fetched is our outage, not the caller's fault.
      if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError)) {
        throw new KeygateError("service_unavailable", "Supabase Auth keys are unavailable. Try again shortly.", {
          headers: { "retry-after": "5" },
        });
      }
      return null;
    }
    const subject = text(payload.sub);
    if (!subject || payload.is_anonymous === true) return null;
    const meta = record(payload.user_metadata);
    return {
      subject,
      email: text(payload.email),
      emailVerified: payload.email_verified === true || meta.email_verified === true,
      name: text(meta.full_name) ?? text(meta.name),
      imageUrl: text(meta.avatar_url) ?? text(meta.picture),
    };
  };
}
