import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sha256, toHex } from "../functions/_shared/hash.ts";

describe("sha256", () => {
  it("matches the FIPS 180-2 test vector", async () => {
    expect(toHex(sha256("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("hashes the UTF-8 bytes of any string like Node's crypto does", async () => {
    await fc.assert(fc.asyncProperty(fc.string({ unit: "grapheme" }), async (s) => {
      expect(Buffer.from(sha256(s)).equals(createHash("sha256").update(s, "utf8").digest())).toBe(true);
    }), { numRuns: 200 });
  });
});
