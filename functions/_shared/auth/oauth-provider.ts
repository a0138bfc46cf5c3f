/**
 * What every sign-in provider (OpenID by discovery, Google, GitHub) offers the
 * auth handler: an authorization URL for one attempt, and the completion of
 * its callback into a profile whose email the provider has vouched for or not.
 */
import type { LoginState } from "./login-state.ts";

export interface ProviderProfile {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  imageUrl: string | null;
}

/** One attempt: the login state plus the exact redirect URI of the provider. */
export type LoginAttempt = Pick<LoginState, "state" | "codeVerifier" | "nonce"> & { redirectUri: string };

export interface OAuthProvider {
  id: string;
  name: string;
  authorizationUrl(attempt: LoginAttempt): Promise<URL>;
  /**
   * Validates the authorization response at `callbackUrl` (state, RFC 9207
   * `iss`, error), exchanges the code once with the PKCE verifier, validates
   * the ID token where there is one, and returns the profile. Throws
   * KeygateError `access_denied` or `provider_error`.
   */
  complete(callbackUrl: URL, attempt: LoginAttempt): Promise<ProviderProfile>;
}
