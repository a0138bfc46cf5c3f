/**
 * Asks Supabase Auth itself who a token's user is and whether their email is
 * confirmed: `GET <SUPABASE_URL>/auth/v1/user` with the presented token and
 * the project's `apikey` (a publishable key, or the legacy anon key). The
 * answer's `email_confirmed_at` is set by the Auth server when the user
 * proves the address, and the user cannot write it, unlike `user_metadata`.
 *
 * Called only when a token's `sub` is new to Keygate, or when its email
 * differs from the one Keygate holds: ordinary requests never reach it.
 *
 *   - confirmed or not: `{ subject, email, emailConfirmed }`
 *   - Auth refuses the token (signed out, banned, deleted user): null
 *   - Auth unreachable, slow or failing: 503 `service_unavailable`, never 401
 */
import type { Config } from "../config/config.ts";
import { KeygateError } from "../core/errors.ts";

export interface SupabaseAuthUser {
  subject: string;
  email: string | null;
  emailConfirmed: boolean;
}

export type SupabaseAuthUserLookup = (token: string) => Promise<SupabaseAuthUser | null>;

const TIMEOUT_MS = 5000;

function unavailable(): KeygateError {
  return new KeygateError("service_unavailable", "Supabase Auth is unavailable. Try again shortly.", {
    headers: { "retry-after": "5" },
  });
}

/** Null when Keygate has no `apikey` to call Supabase Auth with. */
export function createSupabaseAuthUserLookup(
  config: Pick<Config, "supabaseUrl" | "supabaseApiKey">,
  deps: { fetchImpl?: typeof fetch } = {},
): SupabaseAuthUserLookup | null {
  if (!config.supabaseUrl || !config.supabaseApiKey) return null;
  const fetchImpl = deps.fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
  const url = `${config.supabaseUrl}/auth/v1/user`;
  const apiKey = config.supabaseApiKey;

  return async (token) => {
    let response: Response;
    let body: Record<string, unknown> | null;
    try {
      response = await fetchImpl(url, {
        headers: { apikey: apiKey, authorization: `Bearer ${token}`, accept: "application/json" },
        redirect: "error",
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      // Read either way, so the connection is released.
      const raw = await response.text();
      body = response.ok ? JSON.parse(raw) : null;
    } catch {
      throw unavailable();
    }
    // 401/403: the token no longer stands (logged out, banned, deleted); 404: no such user.
    if ([401, 403, 404].includes(response.status)) return null;
    if (!response.ok || typeof body?.id !== "string") throw unavailable();
    const email = typeof body.email === "string" && body.email.trim() !== "" ? body.email.trim() : null;
    const confirmedAt = body.email_confirmed_at;
    return {
      subject: body.id,
      email,
      emailConfirmed: email !== null && typeof confirmedAt === "string" && confirmedAt !== "",
    };
  };
}
