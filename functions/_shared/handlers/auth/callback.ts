/**
 * `GET /auth/callback/<provider>`: the end of a sign-in attempt.
 *
 * The login cookie is cleared whatever happens. Without a valid login cookie
 * (missing, expired, tampered, from another browser) the answer is a JSON
 * `login_expired`. With one, every failure (state mismatch, provider error,
 * wrong issuer, bad ID token, unverified email, inactive user) is a 302 to the
 * dashboard with `?error=<code>`, and nothing is written to the database but
 * the refusal's audit event (audit/auth-events.ts): the
 * user upsert and the session are one statement, reached only on success.
 *
 * Refused sign-ins are limited per client address and per account (the
 * provider identity), across the cluster (refusal-limiter.ts): past a limit
 * the answer is a JSON 429 `rate_limited` with Retry-After (the login cookie
 * still cleared), nothing is asked of the provider or written for the
 * attempt, and one `sign_in.throttled` event per window replaces the
 * refusals one by one. Failures on our side count nothing.
 *
 * A sign-in started with a `code_challenge` (a dashboard on another site)
 * ends without a session cookie: the 302 goes to `redirect_to` with a
 * single-use code in the URL fragment (`#code=...`; a fragment reaches no
 * server log and no Referer), or `#error=<code>` on failure.
 */

import { requestMeta } from "../../audit/request-meta.ts";
import { recordSignInEvent, recordSignInRefusal } from "../../auth/auth-events.ts";
import type { CookieSettings } from "../../auth/cookie-settings.ts";
import { readCookies, serializeCookie } from "../../auth/cookies.ts";
import type { LoginState, LoginStateSealer } from "../../auth/login-state.ts";
import type { OAuthProvider } from "../../auth/oauth-provider.ts";
import { identityAccount, type RefusalAttempt, type RefusalLimiter } from "../../auth/refusal-limiter.ts";
import { SESSION_MAX_LIFETIME_SECONDS } from "../../auth/sessions.ts";
import { issueSignInCode, recordSignIn } from "../../auth/sign-in.ts";
import type { Config, RoleSettings } from "../../config/config.ts";
import { KeygateError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { Db } from "../../db/db.ts";
import { toResponse } from "../../http/response.ts";

export interface CallbackDeps {
  config: Config;
  db: Db;
  providers: Map<string, OAuthProvider>;
  sealer: LoginStateSealer;
  cookies: CookieSettings;
  redirectUri: (providerId: string) => string;
  log: Logger;
  /** Limits on refused sign-ins per client address and per account. */
  limits: RefusalLimiter;
  /** DEFAULT_ROLE and ADMIN_EMAILS, applied on a user's first sign-in. */
  roles?: RoleSettings;
}

/** Refusals that are ours, not the client's: they count against no limit. */
const OUR_FAILURES = new Set(["internal_error", "service_unavailable"]);

/** Constant-time comparison of two strings (state values). */
function sameString(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** `redirectTo` with `fragment` in place of its own. */
function withFragment(redirectTo: string, fragment: string): string {
  const url = new URL(redirectTo);
  url.hash = fragment;
  return url.href;
}

/** Where a failed sign-in lands: the dashboard of the origin the user was going back to. */
function errorRedirect(config: Pick<Config, "publicUrl">, login: LoginState, code: string): string {
  const redirectTo = login.redirectTo;
  if (login.codeChallenge) return withFragment(redirectTo, `error=${encodeURIComponent(code)}`);
  const target = new URL(redirectTo).origin;
  const base = target === new URL(config.publicUrl).origin ? config.publicUrl : target;
  return `${base}/?error=${encodeURIComponent(code)}`;
}

export function createCallbackHandler(
  deps: CallbackDeps,
): (req: Request, providerId: string, client: string | null) => Promise<Response> {
  const { config, db, providers, sealer, cookies, log, limits } = deps;
  const meta = (req: Request) => requestMeta(req, config.clientAddress);
  const clearLogin = serializeCookie(cookies.login.name, "", {
    path: cookies.login.path,
    maxAge: 0,
    secure: cookies.secure,
  });

  function redirect(location: string, setCookies: string[]): Response {
    const headers = new Headers({ location, "cache-control": "no-store", "referrer-policy": "no-referrer" });
    for (const c of setCookies) headers.append("set-cookie", c);
    return new Response(null, { status: 302, headers });
  }

  /** A JSON answer that clears the login cookie (no login, or throttled). */
  function jsonAnswer(err: KeygateError): Response {
    const res = toResponse(err);
    res.headers.append("set-cookie", clearLogin);
    res.headers.set("cache-control", "no-store");
    return res;
  }

  /** Completes the sign-in; returns where to send the browser and the cookies to set. */
  async function signIn(
    req: Request,
    provider: OAuthProvider,
    login: LoginState,
    attempt: RefusalAttempt,
  ): Promise<[string, string[]]> {
    const url = new URL(req.url);
    const state = url.searchParams.get("state");
    if (login.provider !== provider.id || state === null || !sameString(state, login.state)) {
      throw new KeygateError("state_mismatch", "This sign-in response does not belong to this browser. Start again.");
    }
    const redirectUri = deps.redirectUri(provider.id);
    const profile = await provider.complete(url, { ...login, redirectUri });
    // Before anything is written for this identity: past its limit, 429.
    attempt.concerns(identityAccount(provider.id, profile.subject));
    if (login.codeChallenge) {
      const grant = { codeChallenge: login.codeChallenge, origin: new URL(login.redirectTo).origin };
      const { code, userId } = await issueSignInCode(db, provider.id, profile, grant);
      await recordSignInEvent(db, meta(req), { userId, provider: provider.id, roles: deps.roles }, log);
      return [withFragment(login.redirectTo, `code=${code}`), []];
    }
    const { token, userId } = await recordSignIn(db, provider.id, profile);
    await recordSignInEvent(db, meta(req), { userId, provider: provider.id, roles: deps.roles }, log);
    const session = serializeCookie(cookies.session.name, token, {
      path: cookies.session.path,
      maxAge: SESSION_MAX_LIFETIME_SECONDS,
      secure: cookies.secure,
    });
    return [login.redirectTo, [session]];
  }

  return async (req, providerId, client) => {
    const provider = providers.get(providerId);
    const login = provider ? await sealer.open(readCookies(req).get(cookies.login.name)) : null;
    if (!provider || !login) {
      return jsonAnswer(
        provider
          ? new KeygateError(
              "login_expired",
              "This sign-in attempt expired or was started in another browser. Start again.",
            )
          : new KeygateError("unknown_provider", "No such sign-in provider."),
      );
    }
    let attempt: RefusalAttempt;
    try {
      attempt = limits.begin(req, client, "sign_in", { provider: providerId });
    } catch (err) {
      if (err instanceof KeygateError) return jsonAnswer(err);
      throw err;
    }
    try {
      const [location, setCookies] = await signIn(req, provider, login, attempt);
      return redirect(location, [clearLogin, ...setCookies]);
    } catch (err) {
      if (err instanceof KeygateError && err.code === "rate_limited") return jsonAnswer(err);
      let code = "internal_error";
      if (err instanceof KeygateError) code = err.code;
      else log("sign-in failed", { provider: providerId, name: err instanceof Error ? err.name : typeof err });
      if (!OUR_FAILURES.has(code)) attempt.refused();
      await recordSignInRefusal(db, meta(req), providerId, code, log);
      return redirect(errorRedirect(config, login, code), [clearLogin]);
    } finally {
      attempt.end();
    }
  };
}
