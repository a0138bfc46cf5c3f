import { describe, expect, it } from "vitest";
import { loadClientAddressSettings } from "../../functions/_shared/config/config.ts";
import type { Env } from "../../functions/_shared/config/env.ts";
import { clientAddress, enterLocalRequest, leaveLocalRequest } from "../../functions/_shared/http/client-address.ts";

const request = (headers: Record<string, string> = {}) => new Request("http://127.0.0.1/", { headers });
const settings = (env: Env = {}) => loadClientAddressSettings(env);
const addressOf = (req: Request, env: Env = {}) => clientAddress(req, settings(env))?.text ?? null;

/** Who the client is when `req` comes from the TCP peer `peer` of the local server. */
function fromPeer(peer: string, req: Request, env: Env = {}): string | null {
  enterLocalRequest(req, { remoteAddr: { hostname: peer } });
  try {
    return addressOf(req, env);
  } finally {
    leaveLocalRequest(null);
  }
}

describe("clientAddress where the platform vouches (no local server)", () => {
  it("reads the address cf-connecting-ip names by default, canonical", () => {
    expect(addressOf(request({ "cf-connecting-ip": "2001:DB8:0::7" }))).toBe("2001:db8::7");
    expect(addressOf(request({ "cf-connecting-ip": "::ffff:198.51.100.4" }))).toBe("198.51.100.4");
    expect(addressOf(request({ "x-real-ip": "198.51.100.4" }), { CLIENT_IP_HEADER: "X-Real-IP" })).toBe("198.51.100.4");
  });

  it("never reads x-forwarded-for or forwarded unless told to, since they carry what the client sent", () => {
    const forged = { "x-forwarded-for": "198.51.100.4", forwarded: "for=198.51.100.4" };
    expect(addressOf(request(forged))).toBeNull();
    expect(addressOf(request({ ...forged, "cf-connecting-ip": "192.0.2.1" }))).toBe("192.0.2.1");
  });

  it("knows no address without the header, with it turned off, or with a value that is no address", () => {
    expect(addressOf(request())).toBeNull();
    expect(addressOf(request({ "cf-connecting-ip": "198.51.100.4" }), { CLIENT_IP_HEADER: "none" })).toBeNull();
    for (const bad of ["198.51.100.4, 10.0.0.1", "<script>", "1".repeat(65), "unknown", "01.2.3.4", " "]) {
      expect(addressOf(request({ "cf-connecting-ip": bad })), bad).toBeNull();
    }
  });

  it("takes the rightmost x-forwarded-for entry that is not a trusted proxy, when that is the header", () => {
    const env = { CLIENT_IP_HEADER: "x-forwarded-for", TRUSTED_PROXIES: "10.0.0.0/8" };
    expect(addressOf(request({ "x-forwarded-for": "192.0.2.9" }), env)).toBe("192.0.2.9");
    expect(addressOf(request({ "x-forwarded-for": "6.6.6.6, 192.0.2.9, 10.0.0.2, 10.0.0.1" }), env)).toBe("192.0.2.9");
    // With no proxy trusted, the entry the platform appended: the peer it saw.
    expect(
      addressOf(request({ "x-forwarded-for": "6.6.6.6, 192.0.2.9" }), { CLIENT_IP_HEADER: "x-forwarded-for" }),
    ).toBe("192.0.2.9");
  });
});

// Last: once a local server has spoken, this module never reads a header on its own word again.
describe("clientAddress under the local server", () => {
  const forged = {
    "cf-connecting-ip": "192.0.2.1",
    "x-forwarded-for": "192.0.2.2",
    forwarded: "for=192.0.2.3",
    "x-real-ip": "192.0.2.4",
  };

  it("is the TCP peer, and never a header, when the peer is not a trusted proxy", () => {
    expect(fromPeer("127.0.0.2", request(forged))).toBe("127.0.0.2");
    expect(fromPeer("127.0.0.2", request(forged), { TRUSTED_PROXIES: "127.0.0.3" })).toBe("127.0.0.2");
    expect(fromPeer("127.0.0.2", request(forged), { CLIENT_IP_HEADER: "x-forwarded-for" })).toBe("127.0.0.2");
    expect(fromPeer("::FFFF:127.0.0.2", request(forged))).toBe("127.0.0.2");
    expect(fromPeer("::1", request(forged))).toBe("::1");
  });

  it("takes the client from a trusted proxy's x-forwarded-for, right to left past other trusted proxies", () => {
    const env = { TRUSTED_PROXIES: "127.0.0.1, 10.0.0.0/8" };
    const via = (xff: string) => fromPeer("127.0.0.1", request({ ...forged, "x-forwarded-for": xff }), env);
    expect(via("198.51.100.7")).toBe("198.51.100.7");
    // What the client wrote itself is on the left, and never read.
    expect(via("6.6.6.6, 198.51.100.7")).toBe("198.51.100.7");
    expect(via("garbage, <script>, 198.51.100.7")).toBe("198.51.100.7");
    expect(via("6.6.6.6, 198.51.100.7, 10.1.1.1,10.2.2.2")).toBe("198.51.100.7");
    expect(via("[2001:DB8::5]:51234, 10.1.1.1")).toBe("2001:db8::5");
    expect(via("198.51.100.7:4711")).toBe("198.51.100.7");
    expect(via("::ffff:198.51.100.7")).toBe("198.51.100.7");
    // Every hop trusted: the furthest is the client (a request from inside the trusted network).
    expect(via("10.3.3.3, 10.1.1.1")).toBe("10.3.3.3");
  });

  it("knows no client when a trusted proxy names garbage, and none past more hops than any real chain", () => {
    const env = { TRUSTED_PROXIES: "127.0.0.1, 10.0.0.0/8" };
    const via = (xff: string) => fromPeer("127.0.0.1", request({ "x-forwarded-for": xff }), env);
    for (const bad of [
      "unknown",
      "198.51.100.7,",
      "198.51.100.7, ",
      "example.com",
      "198.51.100.7, unknown, 10.0.0.1",
    ]) {
      expect(via(bad), bad).toBeNull();
    }
    expect(via(Array(40).fill("10.0.0.1").join(", "))).toBeNull();
    expect(via(["198.51.100.7", ...Array(30).fill("10.0.0.1")].join(", "))).toBe("198.51.100.7");
  });

  it("is the trusted peer itself when it names nobody (a request from the proxy's own host)", () => {
    expect(fromPeer("127.0.0.1", request(), { TRUSTED_PROXIES: "127.0.0.1" })).toBe("127.0.0.1");
    expect(fromPeer("127.0.0.1", request({ "x-forwarded-for": " " }), { TRUSTED_PROXIES: "127.0.0.1" })).toBe(
      "127.0.0.1",
    );
    const none = { TRUSTED_PROXIES: "127.0.0.1", CLIENT_IP_HEADER: "none" };
    expect(fromPeer("127.0.0.1", request(forged), none)).toBe("127.0.0.1");
  });

  it("reads RFC 7239 Forwarded from a trusted proxy when that is the header", () => {
    const env = { TRUSTED_PROXIES: "127.0.0.1, 10.0.0.0/8", CLIENT_IP_HEADER: "forwarded" };
    const via = (value: string) => fromPeer("127.0.0.1", request({ ...forged, forwarded: value }), env);
    expect(via("for=198.51.100.7;proto=https")).toBe("198.51.100.7");
    expect(via('for=6.6.6.6, For="[2001:db8:cafe::17]:4711", for=10.0.0.9;by=10.0.0.1')).toBe("2001:db8:cafe::17");
    // A client's unterminated quote does not swallow what the proxy appended.
    expect(via('for="6.6.6.6, for=198.51.100.7')).toBe("198.51.100.7");
    for (const bad of ["for=unknown", 'for="_hidden"', "proto=https", "for=198.51.100.7;for=6.6.6.6", 'for="[::1]']) {
      expect(via(bad), bad).toBeNull();
    }
  });

  it("reads a single-address header from a trusted proxy when that is the header", () => {
    const env = { TRUSTED_PROXIES: "127.0.0.1", CLIENT_IP_HEADER: "x-real-ip" };
    expect(fromPeer("127.0.0.1", request(forged), env)).toBe("192.0.2.4");
    expect(fromPeer("127.0.0.1", request({ "x-real-ip": "1.2.3.4, 5.6.7.8" }), env)).toBeNull();
  });

  it("treats an IPv4-mapped peer as its IPv4 address when matching trusted proxies", () => {
    const env = { TRUSTED_PROXIES: "127.0.0.1" };
    expect(fromPeer("::ffff:127.0.0.1", request({ "x-forwarded-for": "198.51.100.7" }), env)).toBe("198.51.100.7");
  });

  it("answers for the request being handed over, for a pending one later, and for no other", () => {
    const handed = request();
    const other = request();
    enterLocalRequest(handed, { remoteAddr: { hostname: "127.0.0.2" } });
    try {
      expect(addressOf(handed)).toBe("127.0.0.2");
      expect(addressOf(other)).toBeNull();
    } finally {
      leaveLocalRequest(null);
    }
    // Answered within the hand-over: nothing kept.
    expect(addressOf(handed)).toBeNull();

    const pending = request();
    enterLocalRequest(pending, { remoteAddr: { hostname: "127.0.0.3" } });
    leaveLocalRequest(pending);
    // After an await, its handler may still ask (the audit log).
    expect(addressOf(pending)).toBe("127.0.0.3");
    expect(addressOf(other)).toBeNull();
  });
});
