import type { ProviderProfile } from "./oauth-provider.ts";

/** `$1`-`$6` of `keygate.upsert_user_from_identity`, for a profile a provider vouched for. */
export function identityParams(provider: string, profile: ProviderProfile): unknown[] {
  return [provider, profile.subject, profile.email, profile.emailVerified, profile.name, profile.imageUrl];
}
