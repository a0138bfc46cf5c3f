/**
 * Transport options for every oauth4webapi call: requests go through the
 * injected fetch, time out after ten seconds, and plain http is allowed only
 * when the provider's host is loopback (`isLoopbackHost`).
 */
import * as oauth from "oauth4webapi";
import { isLoopbackHost } from "../core/loopback.js";

export interface OAuthHttpOptions {
  [oauth.customFetch]: (url: string, options: oauth.CustomFetchOptions<string, unknown>) => Promise<Response>;
  [oauth.allowInsecureRequests]: boolean;
  signal: () => AbortSignal;
}

export const PROVIDER_TIMEOUT_MS = 10_000;

export function oauthHttpOptions(baseUrl: string, fetchImpl: typeof fetch): OAuthHttpOptions {
  const { protocol, hostname } = new URL(baseUrl);
  return {
    [oauth.customFetch]: (url, options) => fetchImpl(url, options as RequestInit),
    [oauth.allowInsecureRequests]: protocol === "http:" && isLoopbackHost(hostname),
    signal: () => AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
  };
}
