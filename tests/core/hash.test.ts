import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sha256, toKeyString } from "../../functions/_shared/core/hash.ts";

describe("sha256", () => {
  it("matches the FIPS 180-2 test vector", () => {
    expect(Buffer.from(sha256("abc")).toString("hex")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  it("hashes the UTF-8 bytes of any string like Node's crypto does", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        expect(Buffer.from(sha256(s)).equals(createHash("sha256").update(s, "utf8").digest())).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe("toKeyString", () => {
  it("keeps every byte, so distinct hashes are distinct keys", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (a, b) => {
          const key = toKeyString(a);
          expect(key).toHaveLength(32);
          expect(Buffer.from(key, "latin1").equals(Buffer.from(a))).toBe(true);
          expect(key === toKeyString(b)).toBe(Buffer.from(a).equals(Buffer.from(b)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
