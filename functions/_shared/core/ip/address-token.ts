/**
 * One address as a proxy header writes it: `192.0.2.1`, `192.0.2.1:4711`,
 * `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711` (the forms of
 * X-Forwarded-For entries and of RFC 7239 `for=` values once unquoted). The
 * port, which says nothing about who the client is, is dropped; it may be
 * RFC 7239's obfuscated form (`_abc`). Anything else, `unknown` and
 * obfuscated nodes (`_hidden`) included, is no address: null.
 */
import { type IpAddress, parseIpAddress } from "./ip-address.ts";

const PORT = /^(?:\d{1,5}|_[0-9A-Za-z._-]{1,64})$/;
/** Longer than any address with brackets, a zone id and a port. */
const MAX_TOKEN = 128;

export function parseAddressToken(token: string): IpAddress | null {
  const text = token.trim();
  if (text.length === 0 || text.length > MAX_TOKEN) return null;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close === -1) return null;
    const rest = text.slice(close + 1);
    if (rest !== "" && !(rest.startsWith(":") && PORT.test(rest.slice(1)))) return null;
    const inner = text.slice(1, close);
    // Brackets hold IPv6 text only.
    return inner.includes(":") ? parseIpAddress(inner) : null;
  }
  const colon = text.indexOf(":");
  if (colon !== -1 && text.indexOf(":", colon + 1) === -1) {
    // One colon: IPv4 and a port (IPv6 text has at least two).
    if (!PORT.test(text.slice(colon + 1))) return null;
    return parseIpAddress(text.slice(0, colon));
  }
  return parseIpAddress(text);
}
