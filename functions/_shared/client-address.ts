/**
 * The address of the client behind a request, as far as the platform vouches
 * for it. Used to key per-client limits; never a security identity.
 *
 * - Locally, the server (scripts/serve.ts) knows the TCP peer from Deno.serve
 *   and brackets its synchronous hand-over of each request to a function with
 *   `enterLocalRequest(info)` / `leaveLocalRequest()`. The key verifier asks
 *   for the address synchronously, before its first await, so it sees that
 *   request's peer; anything asked later gets null. Once a local server has
 *   said so, headers are never read, so a client's own header means nothing
 *   locally. (A WeakMap from request to peer would carry the address across
 *   awaits too, but cost about a microsecond per request on the hot path;
 *   `npm run bench`.)
 * - On Supabase, functions sit behind Supabase's gateway, which is fronted
 *   by Cloudflare: `cf-connecting-ip` is set by Cloudflare to the peer it
 *   saw, replacing any value a client sent. `x-forwarded-for` is not used:
 *   a client's own value is passed through in it. The header is a setting
 *   (CLIENT_IP_HEADER) for other hosts; without it, no address is known and
 *   per-client limits do not apply.
 */
interface PeerInfo {
  remoteAddr: { hostname: string };
}

let servedLocally = false;
let currentPeer: PeerInfo | undefined;

export const DEFAULT_CLIENT_IP_HEADER = "cf-connecting-ip";

/** For the local server only: the request it is about to hand over came from this TCP peer (Deno.serve's `info`). */
export function enterLocalRequest(info: PeerInfo): void {
  servedLocally = true;
  currentPeer = info;
}

/** For the local server only: the hand-over has returned (its promise may still be pending). */
export function leaveLocalRequest(): void {
  currentPeer = undefined;
}

/** The vouched-for client address of `req`, or null when nothing vouches for one. */
export function clientAddress(req: Request, header: string | null = DEFAULT_CLIENT_IP_HEADER): string | null {
  if (servedLocally) return currentPeer ? currentPeer.remoteAddr.hostname : null;
  if (!header) return null;
  const value = req.headers.get(header)?.trim();
  // One address, not a list: a bounded, plain token (IPv4 or IPv6 text).
  return value && value.length <= 64 && /^[0-9A-Fa-f.:]+$/.test(value) ? value : null;
}
