import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIpAddress } from "../../../functions/_shared/core/ip/ip-address.ts";
import { IpRanges } from "../../../functions/_shared/core/ip/ip-ranges.ts";

const address = (s: string) => parseIpAddress(s)!;

describe("IpRanges", () => {
  it("holds single addresses and CIDR ranges of both families", () => {
    const ranges = IpRanges.parse(" 127.0.0.1, 10.0.0.0/8 ,, fd00::/8, 2001:DB8::1 ", "TRUSTED_PROXIES");
    for (const inside of [
      "127.0.0.1",
      "10.0.0.0",
      "10.255.255.255",
      "fd12:3456::1",
      "2001:db8::1",
      "::ffff:10.1.2.3",
    ]) {
      expect(ranges.contains(address(inside)), inside).toBe(true);
    }
    for (const outside of ["127.0.0.2", "11.0.0.0", "9.255.255.255", "fe00::1", "2001:db8::2", "::1", "::a00:1"]) {
      expect(ranges.contains(address(outside)), outside).toBe(false);
    }
    expect(String(ranges)).toBe("127.0.0.1, 10.0.0.0/8, fd00::/8, 2001:db8::1");
    expect(ranges.isEmpty).toBe(false);
    expect(ranges.includesEveryAddress).toBe(false);
  });

  it("is empty for an empty list, and says when it trusts every address of a family", () => {
    expect(IpRanges.parse("", "X").isEmpty).toBe(true);
    expect(IpRanges.parse(" , ", "X").isEmpty).toBe(true);
    expect(IpRanges.parse("", "X").contains(address("127.0.0.1"))).toBe(false);
    expect(IpRanges.parse("0.0.0.0/0", "X").includesEveryAddress).toBe(true);
    expect(IpRanges.parse("::/0", "X").includesEveryAddress).toBe(true);
    expect(IpRanges.parse("::/0", "X").contains(address("192.0.2.1"))).toBe(false);
  });

  it("reads an IPv4-mapped IPv6 range as the IPv4 range", () => {
    const ranges = IpRanges.parse("::ffff:10.0.0.0/104", "X");
    expect(ranges.contains(address("10.9.8.7"))).toBe(true);
    expect(String(ranges)).toBe("10.0.0.0/8");
  });

  it("stops start-up on an entry that is not an address or range, naming the setting and the entry", () => {
    for (const [bad, why] of [
      ["localhost", /"localhost" is not an IP address or CIDR range/],
      ["10.0.0.0/33", /longer than \/32/],
      ["fd00::/129", /longer than \/128/],
      ["10.0.0.0/", /no prefix length/],
      ["10.0.0.0/8/8", /no prefix length/],
      ["10.0.0.0/-1", /no prefix length/],
      ["10.1.2.3/8", /bits set past \/8 \(the range is 10\.0\.0\.0\/8\)/],
      ["2001:db8::1/64", /the range is 2001:db8::\/64/],
      ["fe80::1%eth0", /is not an IP address/],
      ["[::1]", /is not an IP address/],
      ["127.0.0.1:80", /is not an IP address/],
      ["::ffff:10.0.0.0/8", /IPv4-mapped/],
      ["10.0.0.0 10.0.0.1", /is not an IP address/],
    ] as const) {
      expect(() => IpRanges.parse(`127.0.0.1,${bad}`, "TRUSTED_PROXIES"), bad).toThrow(/^TRUSTED_PROXIES: /);
      expect(() => IpRanges.parse(bad, "TRUSTED_PROXIES"), bad).toThrow(why);
    }
  });

  it("contains exactly the addresses that share the range's prefix", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 128 }),
        (a, b, bits) => {
          const hex = (x: Uint8Array) => [...x].map((v) => v.toString(16).padStart(2, "0")).join("");
          const groups = (x: Uint8Array) => hex(x).match(/.{4}/g)!.join(":");
          // A range from a's prefix, and b: is b inside exactly when its first `bits` bits equal a's?
          const bin = (x: Uint8Array) => [...x].map((v) => v.toString(2).padStart(8, "0")).join("");
          const network = BigInt(`0b${bin(a)}`) & (((1n << 128n) - 1n) ^ ((1n << BigInt(128 - bits)) - 1n));
          const networkBytes = Uint8Array.from(network.toString(16).padStart(32, "0").match(/../g)!, (h) =>
            Number.parseInt(h, 16),
          );
          const range = parseIpAddress(groups(networkBytes))!;
          if (range.version === 4) return; // an IPv4-mapped network: an IPv4 range, covered above
          const other = parseIpAddress(groups(b))!;
          const ranges = IpRanges.parse(`${range.text}/${bits}`, "X");
          const same = bin(a).slice(0, bits) === bin(b).slice(0, bits);
          expect(ranges.contains(other)).toBe(other.version === 6 && same);
        },
      ),
    );
  });
});
