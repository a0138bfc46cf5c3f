/**
 * GitHub: plain OAuth 2.0 (no ID token), with `state` and PKCE S256. The
 * profile comes from `GET /user`; the email from `GET /user/emails`, taking
 * the primary address only when GitHub says it is verified (`/user` shows
 * only a public email and says nothing about verification).
 */
import * as oauth from "oauth4webapi";
import { type Logger, logError } from "../core/log.ts";
import { nonBlank } from "../core/non-blank.ts";
import { authorizationUrl, exchangeCode } from "./authorization-code.ts";
import { oauthHttpOptions } from "./oauth-http.ts";
import type { LoginAttempt, OAuthProvider, ProviderProfile } from "./oauth-provider.ts";
import { toProviderError } from "./provider-error.ts";

export interface GithubProviderOptions {
  clientId: string;
  clientSecret: string;
  fetchImpl?: typeof fetch;
  log?: Logger;
}

const AUTHORIZATION_ENDPOINT = "https://github.com/login/oauth/authorize";
const as: oauth.AuthorizationServer = {
  issuer: "https://github.com",
  authorization_endpoint: AUTHORIZATION_ENDPOINT,
  token_endpoint: "https://github.com/login/oauth/access_token",
};
const API = "https://api.github.com";
const SCOPE = "read:user user:email";

interface GithubUser {
  id?: unknown;
  login?: unknown;
  name?: unknown;
  avatar_url?: unknown;
}

interface GithubEmail {
  email?: unknown;
  primary?: unknown;
  verified?: unknown;
}

export function createGithubProvider(options: GithubProviderOptions): OAuthProvider {
  const fetchImpl = options.fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
  const log = options.log ?? logError;
  const http = oauthHttpOptions(as.issuer, fetchImpl);
  const client: oauth.Client = { client_id: options.clientId };
  const clientAuth = oauth.ClientSecretPost(options.clientSecret);

  async function api<T>(accessToken: string, path: string): Promise<T> {
    const headers = new Headers({
      accept: "application/vnd.github+json",
      "user-agent": "keygate",
      "x-github-api-version": "2022-11-28",
    });
    const response = await oauth.protectedResourceRequest(accessToken, "GET", new URL(path, API), headers, null, http);
    if (!response.ok) throw new Error(`GitHub API ${path} answered ${response.status}`);
    return (await response.json()) as T;
  }

  async function profileOf(accessToken: string): Promise<ProviderProfile> {
    const [user, emails] = await Promise.all([
      api<GithubUser>(accessToken, "/user"),
      api<GithubEmail[]>(accessToken, "/user/emails"),
    ]);
    if (typeof user.id !== "number" && typeof user.id !== "string") throw new Error("GitHub /user has no id");
    const primary = Array.isArray(emails) ? emails.find((e) => e.primary === true) : undefined;
    const verified = primary?.verified === true ? nonBlank(primary.email) : null;
    return {
      subject: String(user.id),
      email: verified ?? nonBlank(primary?.email),
      emailVerified: verified !== null,
      name: nonBlank(user.name) ?? nonBlank(user.login),
      imageUrl: nonBlank(user.avatar_url),
    };
  }

  return {
    id: "github",
    name: "GitHub",
    authorizationUrl(attempt: LoginAttempt) {
      return authorizationUrl(AUTHORIZATION_ENDPOINT, options.clientId, SCOPE, attempt, { allow_signup: "true" });
    },
    async complete(callbackUrl: URL, attempt: LoginAttempt) {
      try {
        const { tokens } = await exchangeCode({ as, client, clientAuth, http }, callbackUrl, attempt);
        return await profileOf(tokens.access_token);
      } catch (err) {
        throw toProviderError(err, "github", log);
      }
    },
  };
}
