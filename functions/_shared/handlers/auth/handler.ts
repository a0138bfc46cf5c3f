/**
 * The `auth` edge function (docs/architecture.md, "A sign-in, step by step"): sign-in with OAuth/OpenID
 * providers, dashboard sessions, and the signed-in user.
 *
 *   GET  /auth/providers            the configured providers
 *   GET  /auth/login/<provider>     302 to the provider (state, PKCE, nonce)
 *   GET  /auth/callback/<provider>  302 back to redirect_to with a session
 *   GET  /auth/session              the signed-in user (cookie or Bearer)
 *   POST /auth/token                a cross-site sign-in's code -> a bearer session token
 *   POST /auth/logout               ends the session server-side (cookie or Bearer)
 *   GET  /auth/activity             the signed-in user's own audit events
 */
import * as oauth from "oauth4webapi";
import { requestMeta } from "../../audit/request-meta.ts";
import { recordSignOut } from "../../auth/auth-events.ts";
import { CODE_CHALLENGE_SHAPE } from "../../auth/code-shapes.ts";
import { cookieSettings } from "../../auth/cookie-settings.ts";
import { readCookies, serializeCookie } from "../../auth/cookies.ts";
import { createLoginStateSealer, LOGIN_STATE_TTL_SECONDS } from "../../auth/login-state.ts";
import type { OAuthProvider } from "../../auth/oauth-provider.ts";
import { configuredProviders } from "../../auth/providers.ts";
import { resolveRedirect } from "../../auth/redirect.ts";
import { createRefusalLimiter } from "../../auth/refusal-limiter.ts";
import { createUserResolver } from "../../auth/require-user.ts";
import { sessionBearer } from "../../auth/session-bearer.ts";
import { createSessionStore } from "../../auth/sessions.ts";
import type { Config, RoleSettings } from "../../config/config.ts";
import { KeygateError } from "../../core/errors.ts";
import { type Logger, logError } from "../../core/log.ts";
import { flushToDatabase } from "../../counters/flush-to-database.ts";
import { SharedCounters } from "../../counters/shared-counters.ts";
import type { Db } from "../../db/db.ts";
import { clientKey } from "../../http/client-key.ts";
import { withCors } from "../../http/cors.ts";
import { assertAllowedOrigin } from "../../http/csrf.ts";
import { handleErrors, json, methodNotAllowed, notFound, subPath } from "../../http/response.ts";
import { createActivityRoute } from "./activity.ts";
import { createCallbackHandler } from "./callback.ts";
import { createTokenHandler } from "./token.ts";

export interface AuthHandlerDeps {
  config: Config;
  db: Db;
  /** Used for every provider and JWKS request. */
  fetchImpl?: typeof fetch;
  now?: () => number;
  log?: Logger;
  /** Defaults to the providers the configuration enables. */
  providers?: Map<string, OAuthProvider>;
  /** DEFAULT_ROLE and ADMIN_EMAILS (config.roles); new users are viewers without them. */
  roles?: RoleSettings;
  /** Where the refusal limits' counts are shared; defaults to the database's shared counters. */
  counters?: SharedCounters;
}

function sessionSecret(config: Config, log: Logger): string {
  if (config.sessionSecret) return config.sessionSecret;
  if (config.production) throw new Error("SESSION_SECRET is required (set KEYGATE_ENV=development for local use)");
  log("SESSION_SECRET is not set: using a random one for this process (development only)");
  return oauth.generateRandomState() + oauth.generateRandomState();
}

/**
 * The optional `code_challenge` of a login (with `code_challenge_method`
 * absent or `S256`): the base64url SHA-256 of the page's verifier.
 */
function codeChallengeOf(params: URLSearchParams): string | undefined {
  const challenge = params.get("code_challenge");
  const method = params.get("code_challenge_method");
  if (challenge === null && method === null) return undefined;
  if (challenge === null || !CODE_CHALLENGE_SHAPE.test(challenge) || (method !== null && method !== "S256")) {
    throw new KeygateError(
      "validation_failed",
      "code_challenge must be the base64url SHA-256 of a code verifier (43 characters), with code_challenge_method S256.",
    );
  }
  return challenge;
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
  const limits = createRefusalLimiter({
    db,
    settings: config.authLimits,
    counters: deps.counters ?? new SharedCounters({ flush: flushToDatabase(db), now: deps.now, log }),
    clientAddress: config.clientAddress,
    now: deps.now,
    log,
  });
  const callback = createCallbackHandler({
    config,
    db,
    providers,
    sealer,
    cookies,
    redirectUri,
    log,
    limits,
    roles: deps.roles,
  });
  const activity = createActivityRoute(db);
  const exchangeCode = createTokenHandler(db, limits, config.clientAddress, log);
  const noStore = { "cache-control": "no-store" };

  async function login(req: Request, providerId: string): Promise<Response> {
    const provider = providers.get(providerId);
    if (!provider) throw new KeygateError("unknown_provider", "No such sign-in provider.");
    const params = new URL(req.url).searchParams;
    const redirectTo = resolveRedirect(params.get("redirect_to"), config);
    const codeChallenge = codeChallengeOf(params);
    const attempt = {
      state: oauth.generateRandomState(),
      codeVerifier: oauth.generateRandomCodeVerifier(),
      nonce: oauth.generateRandomNonce(),
    };
    const location = await provider.authorizationUrl({ ...attempt, redirectUri: redirectUri(provider.id) });
    const sealed = await sealer.seal({ provider: provider.id, ...attempt, redirectTo, codeChallenge });
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
    // A bearer is never attached by a browser on its own: no CSRF check for it.
    const bearer = sessionBearer(req);
    if (bearer) {
      await recordSignOut(db, requestMeta(req, config.clientAddress), bearer, log);
      await sessions.end(bearer);
    }
    const token = readCookies(req).get(cookies.session.name);
    if (token) {
      assertAllowedOrigin(req, config.allowedRedirectOrigins);
      await recordSignOut(db, requestMeta(req, config.clientAddress), token, log);
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
    // Asked before the first await: the local server vouches for the peer only until then (client-address.ts).
    const client = clientKey(req, config.clientAddress);
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
      return await callback(req, second, client);
    }
    if (first === "session" && second === undefined) {
      only("GET");
      return await session(req);
    }
    if (first === "token" && second === undefined) {
      only("POST");
      return await exchangeCode(req, client);
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
