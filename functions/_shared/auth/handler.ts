/**
 * The `auth` edge function (DESIGN.md section 5): sign-in with OAuth/OpenID
 * providers, dashboard sessions, and the signed-in user.
 *
 *   GET  /auth/providers            the configured providers
 *   GET  /auth/login/<provider>     302 to the provider (state, PKCE, nonce)
 *   GET  /auth/callback/<provider>  302 back to redirect_to with a session
 *   GET  /auth/session              the signed-in user (cookie or Bearer)
 *   POST /auth/logout               ends the session server-side
 *   GET  /auth/activity             the signed-in user's own audit events
 */
import * as oauth from "oauth4webapi";
import type { Config } from "../config.ts";
import { withCors } from "../cors.ts";
import { assertAllowedOrigin } from "../csrf.ts";
import type { Db } from "../db.ts";
import { KeygateError } from "../errors.ts";
import { handleErrors, json, type Logger, logError, methodNotAllowed, notFound, subPath } from "../http.ts";
import { createCallbackHandler } from "./callback.ts";
import { cookieSettings } from "./cookie-settings.ts";
import { readCookies, serializeCookie } from "./cookies.ts";
import { createLoginStateSealer, LOGIN_STATE_TTL_SECONDS } from "./login-state.ts";
import type { OAuthProvider } from "./oauth-provider.ts";
import { configuredProviders } from "./providers.ts";
import { resolveRedirect } from "./redirect.ts";
import { createUserResolver } from "./require-user.ts";
import { createSessionStore } from "./sessions.ts";
import type { RoleSettings } from "../admin/role-settings.ts";
import { createActivityRoute } from "../audit/activity-handler.ts";
import { recordSignOut } from "../audit/auth-events.ts";

export interface AuthHandlerDeps {
  config: Config;
  db: Db;
  /** Used for every provider and JWKS request. */
  fetchImpl?: typeof fetch;
  now?: () => number;
  log?: Logger;
  /** Defaults to the providers the configuration enables. */
  providers?: Map<string, OAuthProvider>;
  /** DEFAULT_ROLE and ADMIN_EMAILS (admin/role-settings.ts); new users are viewers without them. */
  roles?: RoleSettings;
}

function sessionSecret(config: Config, log: Logger): string {
  if (config.sessionSecret) return config.sessionSecret;
  if (config.production) throw new Error("SESSION_SECRET is required (set KEYGATE_ENV=development for local use)");
  log("SESSION_SECRET is not set: using a random one for this process (development only)");
  return oauth.generateRandomState() + oauth.generateRandomState();
}

export function createAuthHandler(deps: AuthHandlerDeps): (req: Request) => Promise<Response> {
  const { config, db } = deps;
  const log = deps.log ?? logError;
  const providers = deps.providers ?? configuredProviders(config, { fetchImpl: deps.fetchImpl, log });
  const sealer = createLoginStateSealer(sessionSecret(config, log), deps.now);
  const cookies = cookieSettings(config);
  const sessions = createSessionStore(db);
  const resolveUser = createUserResolver({ config, db, fetchImpl: deps.fetchImpl, now: deps.now });
  const redirectUri = (id: string) => `${config.publicUrl}/functions/v1/auth/callback/${id}`;
  const callback = createCallbackHandler({ config, db, providers, sealer, cookies, redirectUri, log, roles: deps.roles });
  const activity = createActivityRoute(db);
  const noStore = { "cache-control": "no-store" };

  async function login(req: Request, providerId: string): Promise<Response> {
    const provider = providers.get(providerId);
    if (!provider) throw new KeygateError("unknown_provider", "No such sign-in provider.");
    const redirectTo = resolveRedirect(new URL(req.url).searchParams.get("redirect_to"), config);
    const attempt = {
      state: oauth.generateRandomState(),
      codeVerifier: oauth.generateRandomCodeVerifier(),
      nonce: oauth.generateRandomNonce(),
    };
    const location = await provider.authorizationUrl({ ...attempt, redirectUri: redirectUri(provider.id) });
    const sealed = await sealer.seal({ provider: provider.id, ...attempt, redirectTo });
    const headers = new Headers({ ...noStore, location: location.href, "referrer-policy": "no-referrer" });
    headers.append(
      "set-cookie",
      serializeCookie(cookies.login.name, sealed, {
        path: cookies.login.path,
        maxAge: LOGIN_STATE_TTL_SECONDS,
        secure: cookies.secure,
      }),
    );
    return new Response(null, { status: 302, headers });
  }

  async function session(req: Request): Promise<Response> {
    const { via: _via, ...user } = await resolveUser(req);
    return json(user, { headers: noStore });
  }

  async function logout(req: Request): Promise<Response> {
    const token = readCookies(req).get(cookies.session.name);
    if (token) {
      assertAllowedOrigin(req, config.allowedRedirectOrigins);
      await recordSignOut(db, req, token, log);
      await sessions.end(token);
    }
    const headers = new Headers(noStore);
    headers.append(
      "set-cookie",
      serializeCookie(cookies.session.name, "", { path: cookies.session.path, maxAge: 0, secure: cookies.secure }),
    );
    return new Response(null, { status: 204, headers });
  }

  async function route(req: Request): Promise<Response> {
    const [first, second, ...rest] = subPath(req, "auth");
    const only = (method: string) => {
      if (req.method !== method) throw methodNotAllowed([method]);
    };
    if (first === "providers" && second === undefined) {
      only("GET");
      return json({ providers: [...providers.values()].map(({ id, name }) => ({ id, name })) });
    }
    if (first === "login" && second !== undefined && rest.length === 0) {
      only("GET");
      return await login(req, second);
    }
    if (first === "callback" && second !== undefined && rest.length === 0) {
      only("GET");
      return await callback(req, second);
    }
    if (first === "session" && second === undefined) {
      only("GET");
      return await session(req);
    }
    if (first === "activity" && second === undefined) {
      only("GET");
      return await activity(req, await resolveUser(req));
    }
    if (first === "logout" && second === undefined) {
      only("POST");
      return await logout(req);
    }
    throw notFound();
  }

  return withCors(config.allowedRedirectOrigins, "GET, POST, OPTIONS", handleErrors(route, log));
}
