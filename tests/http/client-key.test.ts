import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadClientAddressSettings } from "../../functions/_shared/config/config.ts";
import type { Env } from "../../functions/_shared/config/env.ts";
import { clientKey } from "../../functions/_shared/http/client-key.ts";

const keyOf = (address: string, env: Env = {}) =>
  clientKey(
    new Request("http://127.0.0.1/", { headers: { "cf-connecting-ip": address } }),
    loadClientAddressSettings(env),
  );

const groups = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 });
const ipv6 = (net: number[], host: number[]) => [...net, ...host].map((g) => g.toString(16)).join(":");

describe("clientKey", () => {
  it("is an IPv4 client's address, canonical", () => {
    expect(keyOf("198.51.100.7")).toBe("198.51.100.7");
    expect(keyOf("::ffff:198.51.100.7")).toBe("198.51.100.7");
  });

  it("puts an IPv6 client in the bucket of its /64, however the address is written", () => {
    expect(keyOf("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(keyOf("2001:DB8:1:2:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(keyOf("2001:0db8:0001:0002::7%eth0")).toBe("2001:db8:1:2::/64");
    expect(keyOf("2001:db8:1:3::1")).toBe("2001:db8:1:3::/64");
  });

  it("groups by CLIENT_IPV6_PREFIX, or not at all at /128", () => {
    expect(keyOf("2001:db8:1:2:aaaa::1", { CLIENT_IPV6_PREFIX: "48" })).toBe("2001:db8:1::/48");
    expect(keyOf("2001:db8:1:2:aaaa::1", { CLIENT_IPV6_PREFIX: "128" })).toBe("2001:db8:1:2:aaaa::1");
    expect(keyOf("2001:db8:1:2:aaaa::1", { CLIENT_IPV6_PREFIX: "56" })).toBe("2001:db8:1::/56");
  });

  it("is null for an unknown client", () => {
    expect(clientKey(new Request("http://127.0.0.1/"), loadClientAddressSettings({}))).toBeNull();
    expect(keyOf("not an address")).toBeNull();
  });

  it("gives every address of one /64 one key, and addresses of two /64s two", () => {
    fc.assert(
      fc.property(groups, groups, groups, (net, hostA, hostB) => {
        fc.pre(!(net[0] === 0 && net[1] === 0 && net[2] === 0 && net[3] === 0)); // not the IPv4-mapped range
        expect(keyOf(ipv6(net, hostA))).toBe(keyOf(ipv6(net, hostB)));
      }),
    );
    fc.assert(
      fc.property(groups, groups, groups, (netA, netB, host) => {
        fc.pre(netA.join() !== netB.join());
        fc.pre(netA.some((g) => g !== 0) && netB.some((g) => g !== 0));
        expect(keyOf(ipv6(netA, host))).not.toBe(keyOf(ipv6(netB, host)));
      }),
    );
  });
});
