/**
 * An OpenID Connect provider found by discovery (the generic `oidc` provider
 * and Google). Authorization code flow with PKCE S256, `state` and `nonce`;
 * the ID token's signature (by the provider's JWKS), `iss`, `aud`, `exp` and
 * `nonce` are validated by oauth4webapi. Discovery is fetched once per isolate
 * (a failed discovery is retried on the next attempt).
 */
import * as oauth from "oauth4webapi";
import { type Logger, logError } from "../core/log.ts";
import { nonBlank } from "../core/non-blank.ts";
import { authorizationUrl, exchangeCode } from "./authorization-code.ts";
import { oauthHttpOptions } from "./oauth-http.ts";
import type { LoginAttempt, OAuthProvider, ProviderProfile } from "./oauth-provider.ts";
import { toProviderError } from "./provider-error.ts";

export interface OidcProviderOptions {
  id: string;
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  fetchImpl?: typeof fetch;
  log?: Logger;
}

const SCOPE = "openid email profile";

/** Providers disagree on the type: Google sends a boolean, some send "true". */
function isTrue(value: unknown): boolean {
  return value === true || value === "true";
}

export function createOidcProvider(options: OidcProviderOptions): OAuthProvider {
  const { id, name, issuer, clientId, clientSecret } = options;
  const fetchImpl = options.fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
  const log = options.log ?? logError;
  const http = oauthHttpOptions(issuer, fetchImpl);
  const client: oauth.Client = { client_id: clientId };
  const clientAuth = oauth.ClientSecretBasic(clientSecret);
  let discovery: Promise<oauth.AuthorizationServer> | undefined;

  function server(): Promise<oauth.AuthorizationServer> {
    if (!discovery) {
      const pending = (async () => {
        const url = new URL(issuer);
        const response = await oauth.discoveryRequest(url, { ...http, algorithm: "oidc" });
        return await oauth.processDiscoveryResponse(url, response);
      })();
      pending.catch(() => {
        if (discovery === pending) discovery = undefined;
      });
      discovery = pending;
    }
    return discovery;
  }

  async function profileOf(
    as: oauth.AuthorizationServer,
    tokens: oauth.TokenEndpointResponse,
  ): Promise<ProviderProfile> {
    const claims = oauth.getValidatedIdTokenClaims(tokens);
    if (!claims) throw new Error("the token response has no ID token");
    let merged: Record<string, unknown> = { ...claims };
    // Many providers keep profile claims out of the ID token: ask UserInfo.
    if (!nonBlank(claims.email) && as.userinfo_endpoint) {
      const response = await oauth.userInfoRequest(as, client, tokens.access_token, http);
      const info = await oauth.processUserInfoResponse(as, client, claims.sub, response);
      merged = { ...merged, ...info, sub: claims.sub };
    }
    return {
      subject: claims.sub,
      email: nonBlank(merged.email),
      emailVerified: isTrue(merged.email_verified),
      name: nonBlank(merged.name) ?? nonBlank(merged.preferred_username),
      imageUrl: nonBlank(merged.picture),
    };
  }

  return {
    id,
    name,
    async authorizationUrl(attempt: LoginAttempt) {
      let as: oauth.AuthorizationServer;
      try {
        as = await server();
      } catch (err) {
        throw toProviderError(err, id, log);
      }
      if (!as.authorization_endpoint) throw toProviderError(new Error("no authorization_endpoint"), id, log);
      return await authorizationUrl(as.authorization_endpoint, clientId, SCOPE, attempt, { nonce: attempt.nonce });
    },
    async complete(callbackUrl: URL, attempt: LoginAttempt) {
      try {
        const as = await server();
        const { response, tokens } = await exchangeCode({ as, client, clientAuth, http }, callbackUrl, attempt, {
          expectedNonce: attempt.nonce,
          requireIdToken: true,
        });
        // Not mandatory over TLS, but it costs one cached JWKS fetch and refuses forged tokens outright.
        await oauth.validateApplicationLevelSignature(as, response, http);
        return await profileOf(as, tokens);
      } catch (err) {
        throw toProviderError(err, id, log);
      }
    },
  };
}
