/**
 * The sign-in providers the configuration enables (docs/configuration.md), in
 * a fixed order: the generic OpenID provider, Google, GitHub.
 */
import type { Config } from "../config/config.ts";
import type { Logger } from "../core/log.ts";
import { createGithubProvider } from "./github-provider.ts";
import type { OAuthProvider } from "./oauth-provider.ts";
import { createOidcProvider } from "./oidc-provider.ts";

export const GOOGLE_ISSUER = "https://accounts.google.com";

export function configuredProviders(
  config: Pick<Config, "oidc" | "google" | "github">,
  deps: { fetchImpl?: typeof fetch; log?: Logger } = {},
): Map<string, OAuthProvider> {
  const providers: OAuthProvider[] = [];
  if (config.oidc) providers.push(createOidcProvider({ id: "oidc", ...config.oidc, ...deps }));
  if (config.google) {
    providers.push(
      createOidcProvider({ id: "google", name: "Google", issuer: GOOGLE_ISSUER, ...config.google, ...deps }),
    );
  }
  if (config.github) providers.push(createGithubProvider({ ...config.github, ...deps }));
  return new Map(providers.map((p) => [p.id, p]));
}
