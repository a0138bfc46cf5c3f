/**
 * Turns whatever a provider exchange threw into a KeygateError: the user
 * declining becomes `access_denied`; every other provider-side failure (an
 * error response, an outage, a response that fails validation such as a wrong
 * `iss`, `aud`, `nonce`, expiry or signature) becomes `provider_error` (502:
 * the upstream answer could not be used). Details are logged without secrets.
 */
import * as oauth from "oauth4webapi";
import { KeygateError } from "../core/errors.ts";
import { type Logger, logError } from "../core/log.ts";

/** Provider-supplied text is logged, but never more than a short, bounded excerpt. */
const excerpt = (value: unknown) => String(value).slice(0, 100);

export function toProviderError(err: unknown, provider: string, log: Logger = logError): KeygateError {
  if (err instanceof KeygateError) return err;
  if (err instanceof oauth.AuthorizationResponseError) {
    if (err.error === "access_denied") {
      return new KeygateError("access_denied", "Sign-in was cancelled or refused at the provider.");
    }
    log("provider refused the authorization", { provider, error: excerpt(err.error) });
    return new KeygateError("provider_error", "The sign-in provider returned an error.");
  }
  const fields: Record<string, unknown> = { provider, name: err instanceof Error ? err.name : typeof err };
  if (err instanceof oauth.ResponseBodyError) fields.error = excerpt(err.error);
  if (err instanceof oauth.OperationProcessingError) fields.reason = err.code;
  if (err instanceof Error && !(err instanceof oauth.ResponseBodyError)) fields.message = excerpt(err.message);
  log("provider exchange failed", fields);
  return new KeygateError("provider_error", "The sign-in provider's answer could not be used.");
}
