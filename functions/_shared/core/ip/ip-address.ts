/**
 * An IP address read from text, in one canonical form, so that one client is
 * one bucket and one audit entry however its address was written:
 *
 * - IPv4: a dotted quad, each part 0-255 without a leading zero (`010` is
 *   octal to some parsers and decimal to others: refused, not guessed).
 * - IPv6: RFC 4291 text (hex groups, one `::`, an optional trailing dotted
 *   quad), written back as RFC 5952 says: lower case, no leading zeros, the
 *   longest run of two or more zero groups as `::` (the first of equals).
 *   A zone id (`fe80::1%eth0`) is dropped: it names an interface of the
 *   machine that saw the address, not a client.
 * - An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, which a dual-stack
 *   socket reports for an IPv4 peer) is the IPv4 address.
 *
 * Anything else (a name, a list, brackets, a port) is not an address: null.
 * Brackets and ports are a header's wrapping, taken off by address-token.ts.
 */
export interface IpAddress {
  readonly version: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
  /** The canonical text. */
  readonly text: string;
}

const IPV4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const GROUP = /^[0-9A-Fa-f]{1,4}$/;
const ZONE = /^[0-9A-Za-z._~-]{1,64}$/;
/** The longest IPv6 text: eight groups of four, or six and a dotted quad. */
const MAX_IPV6_TEXT = 45;

function ipv4Bytes(text: string): Uint8Array | null {
  const parts = IPV4.exec(text);
  if (!parts) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = Number(parts[i + 1]);
    if (part > 255) return null;
    bytes[i] = part;
  }
  return bytes;
}

/** The 16-bit groups of one side of `::`, a trailing dotted quad counting as two; null when malformed. */
function groups(side: string, last: boolean): number[] | null {
  if (side === "") return [];
  const parts = side.split(":");
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (last && i === parts.length - 1 && part.includes(".")) {
      const quad = ipv4Bytes(part);
      if (!quad) return null;
      out.push((quad[0] << 8) | quad[1], (quad[2] << 8) | quad[3]);
    } else if (GROUP.test(part)) {
      out.push(Number.parseInt(part, 16));
    } else {
      return null;
    }
  }
  return out;
}

function ipv6Bytes(input: string): Uint8Array | null {
  let text = input;
  const zone = text.indexOf("%");
  if (zone !== -1) {
    if (!ZONE.test(text.slice(zone + 1))) return null;
    text = text.slice(0, zone);
  }
  if (text.length < 2 || text.length > MAX_IPV6_TEXT) return null;
  const gap = text.indexOf("::");
  if (gap !== -1 && text.indexOf("::", gap + 1) !== -1) return null;
  const head = groups(gap === -1 ? text : text.slice(0, gap), gap === -1);
  const tail = gap === -1 ? [] : groups(text.slice(gap + 2), true);
  if (!head || !tail) return null;
  const count = head.length + tail.length;
  // Without `::` all eight groups are written; with it, it stands for at least one.
  if (gap === -1 ? count !== 8 : count > 7) return null;
  const values = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = values[i] >> 8;
    bytes[2 * i + 1] = values[i] & 0xff;
  }
  return bytes;
}

function isIpv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** RFC 5952 text of 16 bytes. */
function ipv6Text(bytes: Uint8Array): string {
  const values: number[] = [];
  for (let i = 0; i < 8; i++) values.push((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  let bestStart = -1;
  let bestLength = 1; // a single zero group is written as 0, not ::
  for (let i = 0; i < 8; ) {
    if (values[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && values[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    values
      .slice(from, to)
      .map((v) => v.toString(16))
      .join(":");
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

function fromBytes(version: 4 | 6, bytes: Uint8Array): IpAddress {
  const text = version === 4 ? bytes.join(".") : ipv6Text(bytes);
  return Object.freeze({ version, bytes, text });
}

/** The address written as `text`, canonical; null when it is not exactly one IP address. */
export function parseIpAddress(text: string): IpAddress | null {
  if (text.includes(":")) {
    const bytes = ipv6Bytes(text);
    if (!bytes) return null;
    return isIpv4Mapped(bytes) ? fromBytes(4, bytes.slice(12)) : fromBytes(6, bytes);
  }
  const bytes = ipv4Bytes(text);
  return bytes ? fromBytes(4, bytes) : null;
}

/** The network of `address` with a prefix of `bits` (the bits past it zeroed). */
export function ipNetwork(address: IpAddress, bits: number): IpAddress {
  const bytes = address.bytes.slice();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    bytes[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return fromBytes(address.version, bytes);
}
