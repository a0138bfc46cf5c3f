/**
 * The API key format (docs/architecture.md, "A verification, step by step"):
 *
 *   <prefix>_<43 base62 chars: 32 random bytes><6 base62 chars: CRC-32 of all before>
 *
 * e.g. `kg_3Xb...Q1z0f9K2a`. The checksum lets `parseApiKey` refuse a
 * mistyped, truncated or random string with no I/O at all; only a well-formed
 * key costs a hash and one indexed read.
 */
import { bytesToBigInt, encodeBase62, encodeUint32Base62, isBase62 } from "./base62.ts";
import { crc32Ascii } from "./crc32.ts";

export const SECRET_BYTES = 32;
export const SECRET_CHARS = 43; // ceil(256 / log2(62))
export const CHECKSUM_CHARS = 6; // 62^6 > 2^32
/** Characters of a key shown in lists to recognise it (`kg_AbC1234`). */
export const START_CHARS = 10;

/** The largest 32-byte value in base62; ASCII order matches digit order. */
const MAX_SECRET = encodeBase62((1n << 256n) - 1n, SECRET_CHARS);

export type RandomBytes = (bytes: Uint8Array) => Uint8Array;
const webRandom: RandomBytes = (bytes) => crypto.getRandomValues(bytes);

function checksum(body: string): string {
  return encodeUint32Base62(crc32Ascii(body), CHECKSUM_CHARS);
}

/** A new random key with the given prefix. */
export function generateApiKey(prefix: string, random: RandomBytes = webRandom): string {
  const secret = random(new Uint8Array(SECRET_BYTES));
  const body = `${prefix}_${encodeBase62(bytesToBigInt(secret), SECRET_CHARS)}`;
  return body + checksum(body);
}

/** The display prefix stored beside the hash (first 10 characters). */
export function keyStart(key: string): string {
  return key.slice(0, START_CHARS);
}

export interface ParsedApiKey {
  key: string;
  start: string;
}

/**
 * The key when `value` is exactly of the key format with this prefix and a
 * correct checksum, else null. Pure and cheap: no I/O, a few small strings.
 */
export function parseApiKey(value: string | null | undefined, prefix: string): ParsedApiKey | null {
  if (typeof value !== "string") return null;
  const length = prefix.length + 1 + SECRET_CHARS + CHECKSUM_CHARS;
  if (value.length !== length || !value.startsWith(prefix) || value.charCodeAt(prefix.length) !== 95 /* _ */) {
    return null;
  }
  const secretStart = prefix.length + 1;
  const secretEnd = secretStart + SECRET_CHARS;
  if (!isBase62(value.slice(secretStart))) return null;
  if (value.slice(secretStart, secretEnd) > MAX_SECRET) return null;
  if (value.slice(secretEnd) !== checksum(value.slice(0, secretEnd))) return null;
  return { key: value, start: keyStart(value) };
}
