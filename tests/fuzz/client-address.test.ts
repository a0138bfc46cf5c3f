/**
 * Fuzzing who the client is (client-address.ts, client-key.ts,
 * audit/request-meta.ts) with hostile address headers, in-process, where a
 * run costs microseconds: whatever a client writes, the answer is null or a
 * canonical address, never an exception; what a client writes to the left of
 * the entry a trusted proxy appended never changes the answer; and under the
 * local server, an untrusted peer is the client whatever it sends. The server
 * fuzz (server.test.ts) sends the same values through the real server.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { requestMeta } from "../../functions/_shared/audit/request-meta.ts";
import { type ClientAddressSettings, loadClientAddressSettings } from "../../functions/_shared/config/config.ts";
import { parseIpAddress } from "../../functions/_shared/core/ip/ip-address.ts";
import { clientAddress, enterLocalRequest, leaveLocalRequest } from "../../functions/_shared/http/client-address.ts";
import { clientKey } from "../../functions/_shared/http/client-key.ts";
import { ADDRESS_HEADERS, addressHeaderValue } from "./addresses.ts";

const RUNS = Number(process.env.FUZZ_RUNS ?? "150") * 10;

const settingsArbitrary: fc.Arbitrary<ClientAddressSettings> = fc
  .record({
    CLIENT_IP_HEADER: fc.constantFrom(undefined, "none", ...ADDRESS_HEADERS),
    TRUSTED_PROXIES: fc.constantFrom(undefined, "127.0.0.1", "10.0.0.0/8, fd00::/8", "0.0.0.0/0, ::/0"),
    CLIENT_IPV6_PREFIX: fc.constantFrom(undefined, "32", "48", "64", "127", "128"),
  })
  .map((env) => loadClientAddressSettings(env));

const headersArbitrary = fc
  .array(fc.tuple(fc.constantFrom(...ADDRESS_HEADERS), addressHeaderValue), { maxLength: 6 })
  .map((pairs) => {
    const headers = new Headers();
    for (const [name, value] of pairs) {
      try {
        headers.append(name, value);
      } catch {
        // A value no HTTP client could send (a NUL): skipped.
      }
    }
    return headers;
  });

/** A client outside every trusted range used here: a public IPv4 or IPv6 address. */
const client = fc.oneof(
  fc.tuple(fc.integer({ min: 11, max: 126 }), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join(".")),
  fc
    .array(fc.integer({ min: 0, max: 0xffff }), { minLength: 7, maxLength: 7 })
    .map((groups) => ["2001", ...groups.map((g) => g.toString(16))].join(":")),
);
const trustedHops = fc.array(
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => `10.${p.join(".")}`),
  { maxLength: 5 },
);

const forwardedNode = (address: string) => (address.includes(":") ? `for="[${address}]:4711"` : `for=${address}`);

/** The rules every answer keeps, whatever the request. */
function checkAnswer(req: Request, settings: ClientAddressSettings): void {
  const address = clientAddress(req, settings);
  if (address !== null) {
    expect(parseIpAddress(address.text)?.text).toBe(address.text);
    const key = clientKey(req, settings);
    if (address.version === 4 || settings.ipv6Prefix === 128) expect(key).toBe(address.text);
    else expect(key).toMatch(new RegExp(`/${settings.ipv6Prefix}$`));
  } else {
    expect(clientKey(req, settings)).toBeNull();
  }
  expect(requestMeta(req, settings).clientAddress).toBe(address?.text ?? null);
}

describe("fuzzing hostile address headers where the platform vouches", () => {
  it("answers null or a canonical address, never an exception", () => {
    fc.assert(
      fc.property(settingsArbitrary, headersArbitrary, (settings, headers) => {
        checkAnswer(new Request("http://127.0.0.1/", { headers }), settings);
      }),
      { numRuns: RUNS },
    );
  });

  it("takes the client from the right, whatever the client wrote to its left", () => {
    const xff = loadClientAddressSettings({ CLIENT_IP_HEADER: "x-forwarded-for", TRUSTED_PROXIES: "10.0.0.0/8" });
    const fwd = loadClientAddressSettings({ CLIENT_IP_HEADER: "forwarded", TRUSTED_PROXIES: "10.0.0.0/8" });
    fc.assert(
      fc.property(addressHeaderValue, client, trustedHops, (written, who, hops) => {
        const expected = parseIpAddress(who)!.text;
        const viaXff = new Request("http://127.0.0.1/", {
          headers: { "x-forwarded-for": [written, who, ...hops].join(", ") },
        });
        expect(clientAddress(viaXff, xff)?.text).toBe(expected);
        const viaForwarded = new Request("http://127.0.0.1/", {
          headers: { forwarded: [written, forwardedNode(who), ...hops.map(forwardedNode)].join(", ") },
        });
        expect(clientAddress(viaForwarded, fwd)?.text).toBe(expected);
      }),
      { numRuns: RUNS },
    );
  });
});

// Last: once a local server has spoken, this module never reads a header on its own word again.
describe("fuzzing hostile address headers under the local server", () => {
  function fromPeer<T>(peer: string, req: Request, ask: () => T): T {
    enterLocalRequest(req, { remoteAddr: { hostname: peer } });
    try {
      return ask();
    } finally {
      leaveLocalRequest(null);
    }
  }

  it("is the peer when it is not trusted, and keeps every rule when it is", () => {
    fc.assert(
      fc.property(
        settingsArbitrary,
        headersArbitrary,
        fc.constantFrom("127.0.0.1", "10.1.2.3", "::1", "::ffff:10.9.9.9", "192.0.2.7", "fd00::1"),
        (settings, headers, peer) => {
          const req = new Request("http://127.0.0.1/", { headers });
          fromPeer(peer, req, () => {
            checkAnswer(req, settings);
            const address = parseIpAddress(peer)!;
            if (!settings.trustedProxies.contains(address) || settings.header === null) {
              expect(clientAddress(req, settings)?.text).toBe(address.text);
            }
          });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("takes the client a trusted peer appended, whatever the client wrote before it", () => {
    const settings = loadClientAddressSettings({ TRUSTED_PROXIES: "127.0.0.1, 10.0.0.0/8" });
    fc.assert(
      fc.property(addressHeaderValue, client, trustedHops, (written, who, hops) => {
        const req = new Request("http://127.0.0.1/", {
          headers: { "x-forwarded-for": [written, who, ...hops].join(", ") },
        });
        expect(fromPeer("127.0.0.1", req, () => clientAddress(req, settings)?.text)).toBe(parseIpAddress(who)!.text);
      }),
      { numRuns: RUNS },
    );
  });
});
