import { describe, expect, it } from "vitest";
import { forwardedFor } from "../../../functions/_shared/core/ip/forwarded-for.ts";

describe("forwardedFor", () => {
  it("gives the for= node of an RFC 7239 element, unquoted, whatever the case of the name", () => {
    expect(forwardedFor("for=192.0.2.60;proto=http;by=203.0.113.43")).toBe("192.0.2.60");
    expect(forwardedFor(' For="[2001:db8:cafe::17]:4711" ')).toBe("[2001:db8:cafe::17]:4711");
    expect(forwardedFor("proto=https ; for = 198.51.100.17 ;")).toBe("198.51.100.17");
    expect(forwardedFor("for=unknown")).toBe("unknown");
    expect(forwardedFor('for="_hidden"')).toBe("_hidden");
  });

  it("refuses an element that names no node, names two, or is not well formed", () => {
    for (const bad of [
      "",
      "proto=https",
      "by=203.0.113.43",
      "for=192.0.2.1;for=192.0.2.2",
      "for",
      "garbage;for=192.0.2.1",
      'for="192.0.2.1',
      'for="',
      'for="a\\"b"',
      'for="a"b"',
    ]) {
      expect(forwardedFor(bad), bad).toBeNull();
    }
  });
});
