/**
 * The bucket a request's client is counted in by per-client limits: the
 * vouched-for address (client-address.ts), an IPv4 address as is, an IPv6
 * address by its network of CLIENT_IPV6_PREFIX bits (default /64:
 * `2001:db8:1:2::/64`). One host is routinely given a whole /64, and could
 * otherwise spend a fresh budget from each of its 2^64 addresses. Null: the
 * client is unknown, and per-client limits do not apply to it.
 *
 * The audit log keeps the full address (clientAddress), not this key.
 */

import type { ClientAddressSettings } from "../config/config.ts";
import { ipNetwork } from "../core/ip/ip-address.ts";
import { clientAddress } from "./client-address.ts";

export function clientKey(req: Request, settings: ClientAddressSettings): string | null {
  const address = clientAddress(req, settings);
  if (!address) return null;
  if (address.version === 4 || settings.ipv6Prefix >= 128) return address.text;
  return `${ipNetwork(address, settings.ipv6Prefix).text}/${settings.ipv6Prefix}`;
}
