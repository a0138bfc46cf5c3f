/**
 * Where a sign-in may return to (no open redirects, RFC 9700 section 4.11).
 *
 * Accepted: a same-origin absolute path (`/`, `/keys?x=1`), or an absolute
 * http(s) URL whose origin is in ALLOWED_REDIRECT_ORIGINS. Refused: protocol-
 * relative `//host`, `/\host`, any backslash, control or whitespace character,
 * other schemes (`javascript:`), relative paths, and credentials in the URL.
 * A decision only, no I/O: returns the absolute URL to redirect to, or throws `invalid_redirect`.
 */
import type { Config } from "../config/config.ts";
import { KeygateError } from "../core/errors.ts";

const MAX_LENGTH = 2048;

function invalid(): KeygateError {
  return new KeygateError("invalid_redirect", "redirect_to must be a path on this site or a URL on an allowed origin.");
}

export function resolveRedirect(
  value: string | null | undefined,
  config: Pick<Config, "publicUrl" | "allowedRedirectOrigins">,
): string {
  const publicOrigin = new URL(config.publicUrl).origin;
  if (value === null || value === undefined || value === "") return `${publicOrigin}/`;
  // deno-lint-ignore no-control-regex
  // biome-ignore lint/suspicious/noControlCharactersInRegex: redirect_to must not contain control characters
  if (value.length > MAX_LENGTH || /[\u0000-\u0020\u007f-\u009f\\]/.test(value)) throw invalid();

  if (value.startsWith("/")) {
    if (value.startsWith("//")) throw invalid();
    const url = new URL(value, publicOrigin);
    if (url.origin !== publicOrigin || url.href.length > MAX_LENGTH) throw invalid();
    return url.href;
  }

  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid();
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw invalid();
  if (url.username || url.password) throw invalid();
  if (!config.allowedRedirectOrigins.includes(url.origin)) throw invalid();
  // Percent-encoding can lengthen the value: the limit holds for what is stored.
  if (url.href.length > MAX_LENGTH) throw invalid();
  return url.href;
}
