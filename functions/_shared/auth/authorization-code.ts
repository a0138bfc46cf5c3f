/**
 * The OAuth authorization code flow with PKCE, as every provider runs it: the
 * URL that sends the browser to the provider, and the exchange of the code
 * the callback brings back for tokens. Providers differ only in their
 * endpoints, client authentication, scope and extra parameters.
 */
import * as oauth from "oauth4webapi";
import type { OAuthHttpOptions } from "./oauth-http.ts";
import type { LoginAttempt } from "./oauth-provider.ts";

/** The provider's authorization URL for this attempt; `extra` parameters are set last. */
export async function authorizationUrl(
  endpoint: string,
  clientId: string,
  scope: string,
  attempt: LoginAttempt,
  extra: Record<string, string> = {},
): Promise<URL> {
  const url = new URL(endpoint);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", clientId);
  url.searchParams.set("redirect_uri", attempt.redirectUri);
  url.searchParams.set("scope", scope);
  url.searchParams.set("state", attempt.state);
  url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(attempt.codeVerifier));
  url.searchParams.set("code_challenge_method", "S256");
  for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value);
  return url;
}

/**
 * Checks the callback against the attempt's state and trades its code (with
 * the PKCE verifier) for tokens. The token endpoint's response is returned
 * too, for a provider that checks its signature.
 */
export async function exchangeCode(
  provider: {
    as: oauth.AuthorizationServer;
    client: oauth.Client;
    clientAuth: oauth.ClientAuth;
    http: OAuthHttpOptions;
  },
  callbackUrl: URL,
  attempt: LoginAttempt,
  options?: oauth.ProcessAuthorizationCodeResponseOptions,
): Promise<{ response: Response; tokens: oauth.TokenEndpointResponse }> {
  const { as, client, clientAuth, http } = provider;
  const params = oauth.validateAuthResponse(as, client, callbackUrl, attempt.state);
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    clientAuth,
    params,
    attempt.redirectUri,
    attempt.codeVerifier,
    http,
  );
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, options);
  return { response, tokens };
}
