import { describe, expect, it } from "vitest";
import { parseAddressToken } from "../../../functions/_shared/core/ip/address-token.ts";

const text = (s: string) => parseAddressToken(s)?.text ?? null;

describe("parseAddressToken", () => {
  it("reads an address as proxy headers write it, without brackets or port", () => {
    expect(text("192.0.2.1")).toBe("192.0.2.1");
    expect(text(" 192.0.2.1 ")).toBe("192.0.2.1");
    expect(text("192.0.2.1:4711")).toBe("192.0.2.1");
    expect(text("2001:DB8::1")).toBe("2001:db8::1");
    expect(text("[2001:db8::1]")).toBe("2001:db8::1");
    expect(text("[2001:db8::1]:443")).toBe("2001:db8::1");
    expect(text("[2001:db8::1]:_obf")).toBe("2001:db8::1");
    expect(text("[::ffff:192.0.2.1]:80")).toBe("192.0.2.1");
    expect(text("192.0.2.1:_x.y-z")).toBe("192.0.2.1");
    expect(text("[fe80::1%eth0]:80")).toBe("fe80::1");
  });

  it("refuses anything that is not one address", () => {
    for (const bad of [
      "",
      " ",
      "unknown",
      "_hidden",
      "example.com",
      "example.com:80",
      "[192.0.2.1]",
      "[192.0.2.1]:80",
      "[2001:db8::1",
      "2001:db8::1]",
      "[2001:db8::1]80",
      "[2001:db8::1]:",
      "[2001:db8::1]:123456",
      "[2001:db8::1]:8x",
      "[2001:db8::1]:_",
      "192.0.2.1:",
      "192.0.2.1:80:80",
      "192.0.2.1:http",
      "192.0.2.1, 192.0.2.2",
      '"192.0.2.1"',
      "[[::1]]",
      `${"1".repeat(129)}`,
      `[::1]:_${"a".repeat(200)}`,
    ]) {
      expect(parseAddressToken(bad), bad).toBeNull();
    }
  });
});
