/**
 * The `auth` edge function (docs/architecture.md, "A sign-in, step by step"): sign-in with OAuth/OpenID
 * providers (a login is a 302 to the provider with state, PKCE and nonce; its callback a 302 back to
 * `redirect_to` with a session, or with a code for a dashboard on another site, which `POST /auth/token`
 * exchanges for a bearer session token), dashboard sessions, and the signed-in user and their activity.
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
import { browserCors } from "../../http/cors.ts";
import { assertAllowedOrigin } from "../../http/csrf.ts";
import { json } from "../../http/response.ts";
import { createRouter, route } from "../../http/router.ts";
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

  const routes = [
    route("GET", "/auth/providers", () =>
      json({ providers: [...providers.values()].map(({ id, name }) => ({ id, name })) }),
    ),
    route("GET", "/auth/login/:provider", (req, { provider }) => login(req, provider)),
    // The client is asked before the first await: the local server vouches for the peer only until then
    // (http/client-address.ts).
    route("GET", "/auth/callback/:provider", (req, { provider }) =>
      callback(req, provider, clientKey(req, config.clientAddress)),
    ),
    route("GET", "/auth/session", (req) => session(req)),
    route("POST", "/auth/token", (req) => exchangeCode(req, clientKey(req, config.clientAddress))),
    route("POST", "/auth/logout", (req) => logout(req)),
    route("GET", "/auth/activity", async (req) => activity(req, await resolveUser(req))),
  ];

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

  return createRouter(routes, { cors: browserCors(config.allowedRedirectOrigins), log });
}
