/**
 * What the audit log keeps of a request besides the actor: the client
 * address and the user agent, never a header that carries a secret.
 *
 * The address is the one the failure limits count by, decided by the same
 * rule (client-address.ts): what a trusted proxy or the platform vouches for,
 * or the TCP peer of the local server; never a header a client could have
 * written itself. It is the full address, canonical, not the limits'
 * IPv6 network. Null when nothing vouches for one.
 */

import type { ClientAddressSettings } from "../config/config.ts";
import { clientAddress } from "../http/client-address.ts";

export interface RequestMeta {
  clientAddress: string | null;
  userAgent: string | null;
}

export function requestMeta(req: Request, settings: ClientAddressSettings): RequestMeta {
  const agent = req.headers.get("user-agent");
  return {
    clientAddress: clientAddress(req, settings)?.text ?? null,
    userAgent: agent ? agent.slice(0, 256) : null,
  };
}
