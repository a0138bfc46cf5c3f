import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { KeygateError } from "../../functions/_shared/core/errors.ts";
import { inexactJson } from "../../functions/_shared/http/exact-json.ts";
import { readJson } from "../../functions/_shared/http/response.ts";

const RUNS = Number(process.env.FUZZ_RUNS ?? "500");

/** Whether a number literal, alone as a body, is kept exactly. */
const kept = (literal: string) => inexactJson(literal) === null;

/**
 * The rule again, by other means: the literal and the shortest decimal of its
 * float, each scaled by 10^1000 to a whole number, are the same bigint.
 * Literals here keep their exponent within ±400 and their digits within 60.
 */
function keptByBigInts(literal: string): boolean {
  const value = Number(literal);
  if (!Number.isFinite(value)) return false;
  const scaled = (text: string) => {
    const [, sign, whole, fraction = "", exponent = "0"] = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text)!;
    return BigInt(`${sign}${whole}${fraction}`) * 10n ** BigInt(1000 + Number(exponent) - fraction.length);
  };
  return scaled(literal) === scaled(String(value));
}

const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
/** Any JSON number literal: sign, whole part, fraction, exponent in each spelling. */
const literal = fc
  .record({
    sign: fc.constantFrom("", "-"),
    whole: fc.oneof(
      fc.constant("0"),
      fc.tuple(fc.constantFrom(..."123456789"), digits(0, 25)).map(([a, b]) => a + b),
    ),
    fraction: fc.option(digits(1, 25), { nil: undefined }),
    exponent: fc.option(
      fc.tuple(fc.constantFrom("e", "E"), fc.constantFrom("", "+", "-"), fc.integer({ min: 0, max: 400 })),
      { nil: undefined },
    ),
  })
  .map(
    ({ sign, whole, fraction, exponent }) =>
      `${sign}${whole}${fraction === undefined ? "" : `.${fraction}`}${exponent === undefined ? "" : exponent.join("")}`,
  );

describe("the number rule", () => {
  it("keeps a number whose float's shortest decimal has the value sent", () => {
    for (const literal of [
      "0",
      "-0",
      "0.0",
      "0e999999999999999999999",
      "1",
      "-1",
      "0.1",
      "1.10",
      "1.5e3",
      "1500E-0",
      "1e+3",
      "100e-2",
      "1e21",
      "1e-7",
      "2.5e-5",
      "5e-324",
      "1.7976931348623157e308",
      "9007199254740991",
      "9007199254740992",
      "-9007199254740992",
      "1152921504606847000",
      "123456789012345680000",
    ]) {
      expect(kept(literal), literal).toBe(true);
    }
  });

  it("refuses a number out of range, or with more digits than its float keeps", () => {
    for (const literal of [
      "1e400",
      "-1e400",
      "1e309",
      "1.7976931348623159e308",
      "1e-400",
      "2e-324",
      "3e-324",
      "9007199254740993",
      "-9007199254740993",
      "1.00000000000000000001",
      // 2^60 and 2^70 exactly: their floats' shortest decimals, which are what is stored,
      // are 1152921504606847000 and 1180591620717411300000.
      "1152921504606846976",
      "1180591620717411303424",
      // The float nearest 0.1, to more digits: what is stored is 0.1.
      "0.1000000000000000055511151231257827",
      "123456789012345678901",
    ]) {
      expect(kept(literal), literal).toBe(false);
    }
  });

  it("keeps the shortest decimal of every float, however it is spelled", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        const shortest = String(value);
        expect(kept(shortest), shortest).toBe(true);
        const [mantissa, exponent = "0"] = value.toExponential().split("e");
        const padded = `${mantissa}${mantissa.includes(".") ? "" : "."}000E${exponent}`;
        expect(kept(padded), padded).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it("agrees with exact arithmetic on any literal", () => {
    fc.assert(
      fc.property(literal, (text) => {
        expect(kept(text), text).toBe(keptByBigInts(text));
      }),
      { numRuns: RUNS },
    );
  });
});

describe("inexactJson", () => {
  it("names the value by its path: keys, indexes, and quoted keys that are not names", () => {
    expect(inexactJson('{"payload": {"a": {"b": 1e400}}}')).toBe(
      "payload.a.b: 1e400 cannot be stored exactly; send it as a string",
    );
    expect(inexactJson('{"result": [0, [1, {"n": 9007199254740993}]]}')).toBe(
      "result[1][1].n: 9007199254740993 cannot be stored exactly; send it as a string",
    );
    expect(inexactJson('{"p": {"a.b": {"": {"__proto__": [1e400]}}}}')).toBe(
      'p["a.b"][""].__proto__[0]: 1e400 cannot be stored exactly; send it as a string',
    );
    expect(inexactJson("1e400")).toBe("1e400 cannot be stored exactly; send it as a string");
    expect(inexactJson(`{"${"k".repeat(100)}": 1e400}`)).toBe(
      `["${"k".repeat(37)}..."]: 1e400 cannot be stored exactly; send it as a string`,
    );
    expect(inexactJson(`[1${"0".repeat(400)}]`)).toBe(
      `[0]: 1${"0".repeat(36)}... cannot be stored exactly; send it as a string`,
    );
  });

  it("counts array indexes and object keys past strings that hold JSON's own punctuation", () => {
    expect(inexactJson('{"a": "},[\\"x\\":1e400", "b": ["]", "{", ":", ","], "c": [true, false, null, 1e400]}')).toBe(
      "c[3]: 1e400 cannot be stored exactly; send it as a string",
    );
    expect(inexactJson('{"a": {"x": 1}, "b": {"x": 2}, "c": [[], {}, [[1e400]]]}')).toBe(
      "c[2][0][0]: 1e400 cannot be stored exactly; send it as a string",
    );
  });

  it("refuses \\u0000 and half a surrogate pair, in a string or a key, and keeps whole pairs and other escapes", () => {
    expect(inexactJson('{"a": ["ok", "x\\u0000"]}')).toBe("a[1]: a string holding \\u0000 cannot be stored");
    expect(inexactJson('{"a": {"\\u0000": 1}}')).toBe("a: a key holding \\u0000 cannot be stored");
    expect(inexactJson('{"a": "\\ud83d"}')).toBe("a: a string holding half a surrogate pair cannot be stored");
    expect(inexactJson('{"a": "\\ude00\\ud83d"}')).toBe("a: a string holding half a surrogate pair cannot be stored");
    expect(inexactJson('{"\\udfff": 1}')).toBe("a key holding half a surrogate pair cannot be stored");
    expect(inexactJson('{"a": "\\ud83d\\ude00 \\u00e9 \\\\u0000 \\" \\/ \\b\\f\\n\\r\\t \\u0001 \\uffff"}')).toBeNull();
    expect(inexactJson('{"😀 é": "😀"}')).toBeNull();
  });

  it("refuses a key repeated in one object, not the same key in two", () => {
    expect(inexactJson('{"a": 1, "b": {"a": 2}, "a": 3}')).toBe(
      "a: the key appears twice; only one value can be stored",
    );
    expect(inexactJson('{"x": [{"a": 1}, {"a": 1}], "y": {"a": {"a": 1}}}')).toBeNull();
    expect(inexactJson('{"e": {"\\u0061": 1, "a": 2}}')).toBe(
      "e.a: the key appears twice; only one value can be stored",
    );
  });

  it("reads any depth without exhausting the stack", () => {
    const depth = 100_000;
    expect(inexactJson(`${"[".repeat(depth)}1e400${"]".repeat(depth)}`)).toMatch(/^(\[0\]){100000}: 1e400 /);
    expect(inexactJson(`${"[".repeat(depth)}1${"]".repeat(depth)}`)).toBeNull();
  });
});

describe("readJson with exact", () => {
  const post = (body: string) =>
    new Request("http://127.0.0.1/x", { method: "POST", body, headers: { "content-type": "application/json" } });

  it("keeps __proto__ and constructor as own keys and changes no prototype", async () => {
    const body = await readJson(
      post('{"payload": {"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}}'),
      z.strictObject({ payload: z.unknown() }),
      { exact: true },
    );
    const payload = body.payload as Record<string, unknown>;
    expect(Object.keys(payload)).toEqual(["__proto__", "constructor"]);
    expect(Object.getPrototypeOf(payload)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(payload, "__proto__")?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(payload)).toBe(
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    );
  });

  it("refuses what cannot be stored with 400 validation_failed naming it, before the schema", async () => {
    const err = await readJson(
      post('{"payload": {"n": 1e400}, "unknown": 1}'),
      z.strictObject({ payload: z.unknown() }),
      {
        exact: true,
      },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(KeygateError);
    expect([err.status, err.code, err.message]).toEqual([
      400,
      "validation_failed",
      "payload.n: 1e400 cannot be stored exactly; send it as a string",
    ]);
  });

  it("reads as before without exact", async () => {
    expect(await readJson(post('{"n": 1e400, "n": 1}'), z.unknown())).toEqual({ n: 1 });
  });
});
