/**
 * A list of IP addresses and CIDR ranges, IPv4 and IPv6, as a setting writes
 * it (`TRUSTED_PROXIES=127.0.0.1, 10.0.0.0/8, fd00::/8`), and whether an
 * address is inside it. Strict, because a typo here decides whose word about
 * a client's address is believed: an entry that is not an address or a range,
 * a prefix out of range, or a range with bits set past its prefix
 * (`10.1.2.3/8`: meant `10.0.0.0/8`, or the one address?) stops start-up.
 */
import { type IpAddress, ipNetwork, parseIpAddress } from "./ip-address.ts";

interface Range {
  network: IpAddress;
  bits: number;
}

function inside(address: IpAddress, { network, bits }: Range): boolean {
  if (address.version !== network.version) return false;
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (address.bytes[i] !== network.bytes[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address.bytes[whole] & mask) === network.bytes[whole];
}

function parseRange(entry: string, name: string): Range {
  const slash = entry.indexOf("/");
  const addressText = slash === -1 ? entry : entry.slice(0, slash);
  const fail = (why: string) =>
    new Error(`${name}: "${entry}" ${why}; write addresses or CIDR ranges, e.g. 10.0.0.1, 10.0.0.0/8, fd00::/8`);
  // A zone id names an interface of this machine: meaningless in a list of peers.
  const address = addressText.includes("%") ? null : parseIpAddress(addressText);
  if (!address) throw fail("is not an IP address or CIDR range");
  const max = address.version === 4 ? 32 : 128;
  let bits = max;
  if (slash !== -1) {
    const prefix = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefix)) throw fail("has no prefix length after the /");
    bits = Number(prefix);
    // An IPv4-mapped IPv6 range is an IPv4 range: the first 96 bits are the mapping.
    if (address.version === 4 && addressText.includes(":")) {
      if (bits < 96) throw fail("reaches past the IPv4-mapped addresses (::ffff:0:0/96)");
      bits -= 96;
    }
    if (bits > max) throw fail(`has a prefix longer than /${max}`);
  }
  const network = ipNetwork(address, bits);
  if (network.text !== address.text) throw fail(`has bits set past /${bits} (the range is ${network.text}/${bits})`);
  return { network, bits };
}

export class IpRanges {
  static readonly NONE = new IpRanges([]);

  readonly #ranges: readonly Range[];

  private constructor(ranges: readonly Range[]) {
    this.#ranges = ranges;
  }

  /** A comma-separated list (blank entries ignored); throws an Error naming `name` on a bad entry. */
  static parse(list: string, name: string): IpRanges {
    const entries = list
      .split(",")
      .map((e) => e.trim())
      .filter(Boolean);
    return entries.length === 0 ? IpRanges.NONE : new IpRanges(entries.map((e) => parseRange(e, name)));
  }

  contains(address: IpAddress): boolean {
    for (const range of this.#ranges) if (inside(address, range)) return true;
    return false;
  }

  get isEmpty(): boolean {
    return this.#ranges.length === 0;
  }

  /** Some entry is a /0: every IPv4 or every IPv6 address is in the list. */
  get includesEveryAddress(): boolean {
    return this.#ranges.some((r) => r.bits === 0);
  }

  /** The canonical list: single addresses bare, ranges with their prefix. */
  toString(): string {
    return this.#ranges
      .map(({ network, bits }) =>
        bits === (network.version === 4 ? 32 : 128) ? network.text : `${network.text}/${bits}`,
      )
      .join(", ");
  }
}
