/**
 * The address of the client behind a request, as far as the platform vouches
 * for it. Used to key per-client limits; never a security identity.
 *
 * - Locally, the server (scripts/serve.ts) knows the TCP peer from Deno.serve
 *   and records it here for each request it hands to a function: that wins,
 *   so a client's own header means nothing locally.
 * - On Supabase, functions sit behind Supabase's gateway, which is fronted
 *   by Cloudflare: `cf-connecting-ip` is set by Cloudflare to the peer it
 *   saw, replacing any value a client sent. `x-forwarded-for` is not used:
 *   a client's own value is passed through in it. The header is a setting
 *   (CLIENT_IP_HEADER) for other hosts; without it, no address is known and
 *   per-client limits do not apply.
 */
const peers = new WeakMap<Request, { remoteAddr: { hostname: string } }>();

export const DEFAULT_CLIENT_IP_HEADER = "cf-connecting-ip";

/** For the local server only: the TCP peer Deno.serve saw for this request (its `info`). */
export function recordPeer(req: Request, info: { remoteAddr: { hostname: string } }): void {
  peers.set(req, info);
}

/** The vouched-for client address of `req`, or null when nothing vouches for one. */
export function clientAddress(req: Request, header: string | null = DEFAULT_CLIENT_IP_HEADER): string | null {
  const peer = peers.get(req);
  if (peer) return peer.remoteAddr.hostname;
  if (!header) return null;
  const value = req.headers.get(header)?.trim();
  // One address, not a list: a bounded, plain token (IPv4 or IPv6 text).
  return value && value.length <= 64 && /^[0-9A-Fa-f.:]+$/.test(value) ? value : null;
}
