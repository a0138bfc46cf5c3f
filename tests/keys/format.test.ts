import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BASE62_ALPHABET, encodeBase62, encodeUint32Base62 } from "../../functions/_shared/keys/base62.ts";
import { crc32, crc32Ascii } from "../../functions/_shared/keys/crc32.ts";
import { generateApiKey, keyStart, parseApiKey } from "../../functions/_shared/keys/format.ts";

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const prefixes = fc.stringMatching(/^[a-z][a-z0-9]{0,15}$/);
const keyFrom = (prefix: string, secret: Uint8Array) =>
  generateApiKey(prefix, (out) => {
    out.set(secret);
    return out;
  });

describe("crc32", () => {
  it("matches the IEEE check value", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32Ascii("123456789")).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe("base62", () => {
  it("pads to a fixed width and refuses values that do not fit", () => {
    expect(encodeBase62(0n, 6)).toBe("000000");
    expect(encodeBase62(61n, 2)).toBe("0z");
    expect(encodeBase62(62n ** 6n - 1n, 6)).toBe("zzzzzz");
    expect(() => encodeBase62(62n ** 6n, 6)).toThrow(RangeError);
  });

  it("encodes 32-bit checksums with plain numbers exactly as with BigInt", () => {
    fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (n) => encodeUint32Base62(n, 6) === encodeBase62(BigInt(n), 6)));
    expect(encodeUint32Base62(0xffffffff, 6)).toBe(encodeBase62(0xffffffffn, 6));
    expect(() => encodeUint32Base62(62 ** 2, 2)).toThrow(RangeError);
    expect(() => encodeUint32Base62(2 ** 32, 6)).toThrow(RangeError);
  });

  it("orders its alphabet like ASCII, so equal-width encodings compare like numbers", () => {
    expect([...BASE62_ALPHABET].sort().join("")).toBe(BASE62_ALPHABET);
  });
});

describe("generateApiKey / parseApiKey", () => {
  it("makes keys of the documented shape", () => {
    const key = generateApiKey("kg");
    expect(key).toMatch(/^kg_[0-9A-Za-z]{49}$/);
    expect(keyStart(key)).toBe(key.slice(0, 10));
    expect(parseApiKey(key, "kg")).toEqual({ key, start: key.slice(0, 10) });
  });

  it("keeps the width for the smallest and largest secrets", () => {
    for (const fill of [0x00, 0xff]) {
      const key = keyFrom("kg", new Uint8Array(32).fill(fill));
      expect(key).toHaveLength(3 + 43 + 6);
      expect(parseApiKey(key, "kg")).not.toBeNull();
    }
    expect(keyFrom("kg", new Uint8Array(32))).toMatch(/^kg_0{43}/);
  });

  it("parses every generated key", () => {
    fc.assert(
      fc.property(prefixes, bytes32, (prefix, secret) => {
        expect(parseApiKey(keyFrom(prefix, secret), prefix)).not.toBeNull();
      }),
      { numRuns: 500 },
    );
  });

  it("gives distinct secrets distinct keys", () => {
    fc.assert(
      fc.property(bytes32, bytes32, (a, b) => {
        fc.pre(Buffer.compare(a, b) !== 0);
        expect(keyFrom("kg", a)).not.toBe(keyFrom("kg", b));
      }),
    );
  });

  it("rejects every single-character change", () => {
    const anyChar = fc.oneof(
      fc.constantFrom(...BASE62_ALPHABET, "_", "-", " ", "é"),
      fc.string({ minLength: 1, maxLength: 1, unit: "binary" }),
    );
    fc.assert(
      fc.property(bytes32, fc.nat(), anyChar, (secret, at, replacement) => {
        const key = keyFrom("kg", secret);
        const i = at % key.length;
        fc.pre(key[i] !== replacement);
        const changed = key.slice(0, i) + replacement + key.slice(i + 1);
        expect(parseApiKey(changed, "kg")).toBeNull();
      }),
      { numRuns: 2000 },
    );
  });

  it("rejects every key with one character dropped or added", () => {
    fc.assert(
      fc.property(bytes32, fc.nat(), fc.constantFrom(...BASE62_ALPHABET), (secret, at, extra) => {
        const key = keyFrom("kg", secret);
        const i = at % key.length;
        expect(parseApiKey(key.slice(0, i) + key.slice(i + 1), "kg")).toBeNull();
        expect(parseApiKey(key.slice(0, i) + extra + key.slice(i), "kg")).toBeNull();
      }),
    );
  });

  it("rejects random strings, including well-shaped ones", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        expect(parseApiKey(s, "kg")).toBeNull();
      }),
      { numRuns: 1000 },
    );
    const shaped = fc.array(fc.constantFrom(...BASE62_ALPHABET), { minLength: 49, maxLength: 49 });
    // A random body passes a 32-bit checksum with probability 2^-32.
    fc.assert(
      fc.property(shaped, (chars) => {
        expect(parseApiKey(`kg_${chars.join("")}`, "kg")).toBeNull();
      }),
      { numRuns: 1000 },
    );
  });

  it("rejects a key of another prefix, and non-strings", () => {
    const key = generateApiKey("kg");
    expect(parseApiKey(key, "kx")).toBeNull();
    expect(parseApiKey(generateApiKey("live"), "kg")).toBeNull();
    expect(parseApiKey(null, "kg")).toBeNull();
    expect(parseApiKey(undefined, "kg")).toBeNull();
    expect(parseApiKey("", "kg")).toBeNull();
  });

  it("rejects a secret above 2^256 even with a matching checksum", () => {
    const body = `kg_${"z".repeat(43)}`;
    const forged = body + encodeBase62(BigInt(crc32Ascii(body)), 6);
    expect(parseApiKey(forged, "kg")).toBeNull();
  });
});
