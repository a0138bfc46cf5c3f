/**
 * Who the client of a request is, as far as something Keygate trusts vouches
 * for it: the one rule behind the per-client failure limits (client-key.ts)
 * and the audit log's address (audit/request-meta.ts). Never an identity.
 *
 * - The local server (scripts/serve.ts, `npm start`) knows the TCP peer. A
 *   peer outside TRUSTED_PROXIES is the client, and no header is read: a
 *   client's own header means nothing. A peer inside it is a proxy, and its
 *   header (CLIENT_IP_HEADER; x-forwarded-for when TRUSTED_PROXIES is set and
 *   CLIENT_IP_HEADER is not) names the client; a request that carries none
 *   came from the proxy's own host, so the peer is the client.
 * - Elsewhere (hosted Supabase, another Deno host) no peer is known, and the
 *   header is the platform's word: cf-connecting-ip by default, which
 *   Cloudflare, in front of Supabase's gateway, sets to the peer it saw,
 *   replacing any value a client sent. Where Cloudflare does not front the
 *   functions, that header is whatever the client sends. Without the header,
 *   no address is known (null) and per-client limits do not apply.
 *
 * A list header is read from the right, where each proxy appends the peer it
 * saw: `x-forwarded-for` (`client, proxy1, proxy2`) or RFC 7239 `forwarded`
 * (`for=` of each element). The first entry that is not itself a trusted
 * proxy is the client; entries further left are whatever the client wrote
 * and are never read. An entry that is not an address where one is needed
 * makes the client unknown (null), never a guess. Any other header holds one
 * address. Addresses come back canonical (ip/ip-address.ts): one client, one
 * text, however it was written.
 *
 * The local server brackets its synchronous hand-over of each request with
 * `enterLocalRequest(req, info)` / `leaveLocalRequest(...)`. The key verifier
 * asks before its first await, and a cache hit or a malformed key is answered
 * within the hand-over, so the hot path pays a few assignments and nothing
 * else. Only an answer still pending when the hand-over returns (a database
 * read, a handler that writes the audit log later) has its peer kept, in a
 * WeakMap: a WeakMap entry for every request was measurable on the cached
 * path (`npm run bench`), and is noise next to the read a pending answer
 * waits for.
 */
import type { ClientAddressSettings } from "../config/config.ts";
import { parseAddressToken } from "../core/ip/address-token.ts";
import { forwardedFor } from "../core/ip/forwarded-for.ts";
import { type IpAddress, parseIpAddress } from "../core/ip/ip-address.ts";
import type { IpRanges } from "../core/ip/ip-ranges.ts";

interface PeerInfo {
  remoteAddr: { hostname: string };
}

/** More proxies than any real chain has; past them, the client is unknown. */
const MAX_HOPS = 32;

let servedLocally = false;
let currentRequest: Request | undefined;
let currentPeer: PeerInfo | undefined;
const pendingPeers = new WeakMap<Request, PeerInfo>();

/** For the local server only: `req`, about to be handed over, came from this TCP peer (Deno.serve's `info`). */
export function enterLocalRequest(req: Request, info: PeerInfo): void {
  servedLocally = true;
  currentRequest = req;
  currentPeer = info;
}

/**
 * For the local server only: the hand-over has returned. `pending`: the
 * request, when its answer is a promise still to settle (code after an await
 * may still ask who its client is); null when it was answered already.
 */
export function leaveLocalRequest(pending: Request | null): void {
  if (pending && currentPeer) pendingPeers.set(pending, currentPeer);
  currentRequest = undefined;
  currentPeer = undefined;
}

/** The first entry of a list header, from the right, that is not a trusted proxy. */
function fromList(value: string, forwarded: boolean, trusted: IpRanges, peer: IpAddress | null): IpAddress | null {
  let nearest = peer;
  let end = value.length;
  for (let hop = 0; hop < MAX_HOPS && end >= 0; hop++) {
    const comma = end === 0 ? -1 : value.lastIndexOf(",", end - 1);
    const entry = value.slice(comma + 1, end);
    end = comma;
    const node = forwarded ? forwardedFor(entry) : entry;
    const address = node === null ? null : parseAddressToken(node);
    if (!address) return null;
    if (!trusted.contains(address)) return address;
    nearest = address;
  }
  // Every entry trusted: the furthest is the client (a request from inside the trusted network).
  return end < 0 ? nearest : null;
}

function fromHeader(req: Request, settings: ClientAddressSettings, header: string, peer: IpAddress | null) {
  const value = req.headers.get(header);
  if (value === null || value.trim() === "") return peer;
  if (header === "x-forwarded-for") return fromList(value, false, settings.trustedProxies, peer);
  if (header === "forwarded") return fromList(value, true, settings.trustedProxies, peer);
  return parseAddressToken(value);
}

/** The vouched-for client address of `req`, canonical, or null when nothing vouches for one. */
export function clientAddress(req: Request, settings: ClientAddressSettings): IpAddress | null {
  const { header } = settings;
  if (servedLocally) {
    const peer = req === currentRequest ? currentPeer : pendingPeers.get(req);
    if (!peer) return null;
    const address = parseIpAddress(peer.remoteAddr.hostname);
    if (!address || header === null || !settings.trustedProxies.contains(address)) return address;
    return fromHeader(req, settings, header, address);
  }
  return header === null ? null : fromHeader(req, settings, header, null);
}
