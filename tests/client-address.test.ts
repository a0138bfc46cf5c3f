import { describe, expect, it } from "vitest";
import { clientAddress, enterLocalRequest, leaveLocalRequest } from "../functions/_shared/client-address.ts";
import { loadKeySettings } from "../functions/_shared/config.ts";

const request = (headers: Record<string, string> = {}) => new Request("http://127.0.0.1/", { headers });

describe("clientAddress", () => {
  it("reads the address the platform's header vouches for (cf-connecting-ip by default)", () => {
    expect(clientAddress(request({ "cf-connecting-ip": "2001:db8::7" }))).toBe("2001:db8::7");
    expect(clientAddress(request({ "x-real-ip": "198.51.100.4" }), "x-real-ip")).toBe("198.51.100.4");
  });

  it("never reads x-forwarded-for, which carries what the client sent", () => {
    expect(clientAddress(request({ "x-forwarded-for": "198.51.100.4" }))).toBeNull();
  });

  it("knows no address without the header, with it turned off, or with a value that is no address", () => {
    expect(clientAddress(request())).toBeNull();
    expect(clientAddress(request({ "cf-connecting-ip": "198.51.100.4" }), null)).toBeNull();
    for (const bad of ["198.51.100.4, 10.0.0.1", "<script>", "1".repeat(65)]) {
      expect(clientAddress(request({ "cf-connecting-ip": bad })), bad).toBeNull();
    }
  });
});

// Last: once a local server has spoken, this module never reads a header again.
describe("clientAddress under the local server", () => {
  it("gives the TCP peer of the request being handed over, and never a header", () => {
    const req = request({ "cf-connecting-ip": "192.0.2.1" });
    enterLocalRequest({ remoteAddr: { hostname: "127.0.0.2" } });
    try {
      expect(clientAddress(req)).toBe("127.0.0.2");
    } finally {
      leaveLocalRequest();
    }
    expect(clientAddress(req)).toBeNull();
  });
});

describe("loadKeySettings: the failure limit", () => {
  it("defaults to 60 failures a minute per cf-connecting-ip address", () => {
    expect(loadKeySettings({})).toMatchObject({ failuresPerMinute: 60, clientIpHeader: "cf-connecting-ip" });
  });

  it("takes another header, none, or 0 to turn the limit off, and refuses nonsense", () => {
    expect(loadKeySettings({ CLIENT_IP_HEADER: "X-Real-IP" }).clientIpHeader).toBe("x-real-ip");
    expect(loadKeySettings({ CLIENT_IP_HEADER: "none" }).clientIpHeader).toBeNull();
    expect(loadKeySettings({ API_KEY_FAILURES_PER_MINUTE: "0" }).failuresPerMinute).toBe(0);
    expect(() => loadKeySettings({ CLIENT_IP_HEADER: "x real ip" })).toThrow(/CLIENT_IP_HEADER/);
    expect(() => loadKeySettings({ API_KEY_FAILURES_PER_MINUTE: "-1" })).toThrow(/API_KEY_FAILURES_PER_MINUTE/);
  });
});
