/**
 * Hostile values for the headers that may name a client (X-Forwarded-For,
 * Forwarded, cf-connecting-ip, X-Real-IP): forged and real-looking
 * addresses in every spelling (IPv6 compressed or not, upper case, zone ids,
 * IPv4-mapped, brackets, ports), malformed ones, RFC 7239 elements with
 * garbage and unterminated quotes, many hops, and oversized lists.
 */
import fc from "fast-check";

export const ADDRESS_HEADERS = ["x-forwarded-for", "forwarded", "cf-connecting-ip", "x-real-ip"] as const;

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join("."));

const ipv6 = fc
  .record({
    groups: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }),
    compress: fc.boolean(),
    upper: fc.boolean(),
    padded: fc.boolean(),
    zone: fc.option(fc.constantFrom("eth0", "1", "lo", "a%b", ""), { nil: undefined }),
  })
  .map(({ groups, compress, upper, padded, zone }) => {
    let text = groups.map((g) => g.toString(16).padStart(padded ? 4 : 1, "0")).join(":");
    if (compress) text = text.replace(/(^|:)0+(:0+)+(:|$)/, "::");
    if (upper) text = text.toUpperCase();
    return zone === undefined ? text : `${text}%${zone}`;
  });

const mapped = ipv4.map((v4) => `::ffff:${v4}`);

/** One address as some header might write it, well or badly. */
const node = fc.oneof(
  { weight: 3, arbitrary: ipv4 },
  { weight: 3, arbitrary: ipv6 },
  { weight: 1, arbitrary: mapped },
  { weight: 1, arbitrary: fc.tuple(ipv4, fc.nat(70_000)).map(([a, p]) => `${a}:${p}`) },
  { weight: 1, arbitrary: fc.tuple(ipv6, fc.nat(70_000)).map(([a, p]) => `[${a}]:${p}`) },
  { weight: 1, arbitrary: ipv6.map((a) => `[${a}]`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "unknown",
      "_hidden",
      "",
      " ",
      "01.2.3.4",
      "256.1.1.1",
      "1.2.3",
      "1:::2",
      "[::1",
      "::1]",
      "[1.2.3.4]:80",
      "localhost",
      "127.0.0.1:http",
      "'\"",
      "%",
      "%25",
    ),
  },
  { weight: 2, arbitrary: fc.stringMatching(/^[\x20-\x7e]{0,40}$/) },
);

/** An RFC 7239 element, well formed or not. */
const element = fc.oneof(
  node.map((n) => `for=${n}`),
  node.map((n) => `for="${n}"`),
  fc.tuple(node, node).map(([a, b]) => `for="${a}";by=${b};proto=https`),
  fc.tuple(node, node).map(([a, b]) => `For=${a};for=${b}`),
  node.map((n) => `for="${n}`),
  fc.constantFrom("proto=https", "by=10.0.0.1", ";;;", "for", "for=", 'for=""', "=", 'for="a\\"b"', "\"'"),
  fc.stringMatching(/^[\x20-\x7e]{0,60}$/),
);

export const addressHeaderValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: node },
  { weight: 3, arbitrary: fc.array(node, { minLength: 2, maxLength: 40 }).map((hops) => hops.join(", ")) },
  { weight: 2, arbitrary: fc.array(element, { minLength: 1, maxLength: 10 }).map((els) => els.join(", ")) },
  { weight: 1, arbitrary: fc.array(node, { maxLength: 6 }).map((hops) => hops.join(",")) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom("10.0.0.1, ", "for=10.0.0.1, ", "1.2.3.4,", "garbage, "),
        fc.integer({ min: 100, max: 4_000 }),
      )
      .map(([hop, n]) => hop.repeat(n)),
  },
);
