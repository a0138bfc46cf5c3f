import { isIP } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ipNetwork, parseIpAddress } from "../../../functions/_shared/core/ip/ip-address.ts";

const text = (s: string) => parseIpAddress(s)?.text ?? null;

/** The eight groups of 16 bytes, in full (`0db8`), the form nothing shortens. */
function fullHex(bytes: Uint8Array): string[] {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16).padStart(4, "0"));
  return groups;
}

const ipv4Mapped = (b: Uint8Array) => b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
/** 16 bytes, with runs of zeros common enough that `::` is exercised. */
const ipv6Bytes = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((groups) => Uint8Array.from(groups.flatMap((g) => [g >> 8, g & 0xff])))
  .filter((b) => !ipv4Mapped(b));

describe("parseIpAddress: IPv4", () => {
  it("reads a dotted quad", () => {
    expect(parseIpAddress("192.0.2.1")).toEqual({ version: 4, bytes: Uint8Array.of(192, 0, 2, 1), text: "192.0.2.1" });
    expect(text("0.0.0.0")).toBe("0.0.0.0");
    expect(text("255.255.255.255")).toBe("255.255.255.255");
  });

  it("refuses what is not exactly one dotted quad, leading zeros included", () => {
    for (const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "1.2.3.-1",
      "01.2.3.4",
      "1.2.3.04",
      "0x7f.0.0.1",
      "1.2.3.4 ",
      " 1.2.3.4",
      "1..2.3",
      "1.2.3.4.",
      "127.1",
      "2130706433",
      "1.2.3.4%eth0",
      "example.com",
    ]) {
      expect(parseIpAddress(bad), bad).toBeNull();
    }
  });

  it("round-trips every address", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
        const parsed = parseIpAddress(bytes.join("."));
        expect(parsed?.version).toBe(4);
        expect(parsed?.bytes).toEqual(bytes);
        expect(parsed?.text).toBe(bytes.join("."));
      }),
    );
  });
});

describe("parseIpAddress: IPv6", () => {
  it("writes the canonical text of RFC 5952", () => {
    expect(text("2001:0DB8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1");
    expect(text("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1"); // the first of two equal runs
    expect(text("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1"); // one zero group stays 0
    expect(text("2001:0:0:1:0:0:0:1")).toBe("2001:0:0:1::1"); // the longest run
    expect(text("::")).toBe("::");
    expect(text("::1")).toBe("::1");
    expect(text("1::")).toBe("1::");
    expect(text("fe80::1%eth0")).toBe("fe80::1");
    expect(text("FE80::1%25")).toBe("fe80::1");
    expect(text("1:2:3:4:5:6:7:8")).toBe("1:2:3:4:5:6:7:8");
    expect(text("::1.2.3.4")).toBe("::102:304");
    expect(text("64:ff9b::192.0.2.33")).toBe("64:ff9b::c000:221");
  });

  it("is the IPv4 address when IPv4-mapped, in either notation", () => {
    for (const mapped of ["::ffff:192.0.2.1", "::FFFF:c000:201", "0:0:0:0:0:ffff:192.0.2.1", "::ffff:c000:0201"]) {
      expect(parseIpAddress(mapped), mapped).toEqual({
        version: 4,
        bytes: Uint8Array.of(192, 0, 2, 1),
        text: "192.0.2.1",
      });
    }
  });

  it("refuses malformed text", () => {
    for (const bad of [
      ":",
      ":::",
      "1:::2",
      "1::2::3",
      ":1::2",
      "1::2:",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7::8",
      "1::2:3:4:5:6:7:8",
      "12345::",
      "g::1",
      "::1.2.3",
      "::1.2.3.256",
      "::01.2.3.4",
      "1.2.3.4::",
      "::1.2.3.4:5",
      "[::1]",
      "::1%",
      "::1%eth 0",
      "::1%a/b",
      `::1%${"a".repeat(65)}`,
      "::1:80 ",
      `${"0:".repeat(20)}1`,
    ]) {
      expect(parseIpAddress(bad), bad).toBeNull();
    }
  });

  it("agrees with the WHATWG URL parser's canonical IPv6 text for every address", () => {
    fc.assert(
      fc.property(ipv6Bytes, (bytes) => {
        const full = fullHex(bytes).join(":");
        const canonical = new URL(`http://[${full}]/`).hostname.slice(1, -1);
        const parsed = parseIpAddress(full);
        expect(parsed?.text).toBe(canonical);
        expect(parsed?.bytes).toEqual(bytes);
        expect(parseIpAddress(canonical)?.text).toBe(canonical);
      }),
    );
  });

  it("gives one text for every way of writing one address", () => {
    const spelling = fc.record({
      upper: fc.boolean(),
      leadingZeros: fc.boolean(),
      quad: fc.boolean(),
      zone: fc.option(fc.stringMatching(/^[a-z0-9]{1,8}$/), { nil: undefined }),
    });
    fc.assert(
      fc.property(ipv6Bytes, spelling, (bytes, how) => {
        let groups = fullHex(bytes).map((g) => (how.leadingZeros ? g : g.replace(/^0+(?=.)/, "")));
        if (how.quad) groups = [...groups.slice(0, 6), `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`];
        let written = groups.join(":");
        if (how.upper) written = written.toUpperCase();
        if (how.zone) written += `%${how.zone}`;
        expect(text(written)).toBe(text(fullHex(bytes).join(":")));
      }),
    );
  });

  it("accepts exactly the strings Node's net.isIP accepts, over the characters of addresses", () => {
    const candidate = fc.oneof(
      fc.stringMatching(/^[0-9a-fA-F:.]{0,46}$/),
      fc
        .array(fc.oneof(fc.stringMatching(/^[0-9a-f]{0,5}$/), fc.constantFrom("", "1.2.3.4", "255.0.0.256")), {
          maxLength: 10,
        })
        .map((parts) => parts.join(":")),
      fc.array(fc.stringMatching(/^(0|[1-9][0-9]{0,3})$/), { maxLength: 5 }).map((parts) => parts.join(".")),
    );
    fc.assert(
      fc.property(candidate, (s) => {
        expect(parseIpAddress(s) !== null, s).toBe(isIP(s) !== 0);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("ipNetwork", () => {
  it("zeroes the bits past the prefix", () => {
    const v6 = parseIpAddress("2001:db8:1234:5678:9abc:def0:1234:5678")!;
    expect(ipNetwork(v6, 64).text).toBe("2001:db8:1234:5678::");
    expect(ipNetwork(v6, 48).text).toBe("2001:db8:1234::");
    expect(ipNetwork(v6, 60).text).toBe("2001:db8:1234:5670::");
    expect(ipNetwork(v6, 128).text).toBe(v6.text);
    expect(ipNetwork(v6, 0).text).toBe("::");
    expect(ipNetwork(parseIpAddress("192.0.2.255")!, 25).text).toBe("192.0.2.128");
  });
});
