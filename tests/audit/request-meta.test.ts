import { describe, expect, it } from "vitest";
import { requestMeta } from "../../functions/_shared/audit/request-meta.ts";
import { loadClientAddressSettings } from "../../functions/_shared/config/config.ts";
import { enterLocalRequest, leaveLocalRequest } from "../../functions/_shared/http/client-address.ts";

const request = (headers: Record<string, string>) => new Request("http://127.0.0.1/", { headers });

describe("requestMeta", () => {
  it("keeps the vouched-for address in full, canonical, and the user agent bounded", () => {
    const meta = requestMeta(
      request({ "cf-connecting-ip": "2001:DB8:1:2:aaaa::1", "user-agent": "a".repeat(300) }),
      loadClientAddressSettings({}),
    );
    expect(meta).toEqual({ clientAddress: "2001:db8:1:2:aaaa::1", userAgent: "a".repeat(256) });
  });

  it("never takes the first x-forwarded-for entry, which the client writes", () => {
    const forged = request({ "x-forwarded-for": "192.0.2.4, 10.0.0.1" });
    expect(requestMeta(forged, loadClientAddressSettings({})).clientAddress).toBeNull();
    const trusted = loadClientAddressSettings({ CLIENT_IP_HEADER: "x-forwarded-for", TRUSTED_PROXIES: "10.0.0.0/8" });
    expect(requestMeta(forged, trusted).clientAddress).toBe("192.0.2.4");
    expect(requestMeta(request({ "x-forwarded-for": "192.0.2.4, 198.51.100.9" }), trusted).clientAddress).toBe(
      "198.51.100.9",
    );
  });

  it("is the local server's TCP peer after the hand-over, for an answer still pending", () => {
    const req = request({ "x-forwarded-for": "192.0.2.4", "cf-connecting-ip": "192.0.2.5" });
    enterLocalRequest(req, { remoteAddr: { hostname: "127.0.0.9" } });
    leaveLocalRequest(req);
    expect(requestMeta(req, loadClientAddressSettings({})).clientAddress).toBe("127.0.0.9");
  });
});
