/**
 * Fixed-width base62 (digits, then A-Z, then a-z: the same order as ASCII, so
 * two encodings of equal width compare like the numbers they encode).
 */
export const BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Encodes a non-negative integer as exactly `width` base62 characters, left-padded with "0". */
export function encodeBase62(value: bigint, width: number): string {
  if (value < 0n) throw new RangeError("base62 encodes non-negative integers only");
  let out = "";
  let rest = value;
  while (rest > 0n) {
    out = BASE62_ALPHABET[Number(rest % 62n)] + out;
    rest /= 62n;
  }
  if (out.length > width) throw new RangeError(`value needs more than ${width} base62 characters`);
  return out.padStart(width, "0");
}

/**
 * `encodeBase62` for a 32-bit unsigned integer (the checksum) in plain
 * numbers: it runs on every verification, where BigInt arithmetic allocates.
 */
export function encodeUint32Base62(value: number, width: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw new RangeError("not a 32-bit unsigned integer");
  const chars = new Array<string>(width).fill("0");
  let rest = value;
  for (let i = width - 1; i >= 0 && rest > 0; i--) {
    chars[i] = BASE62_ALPHABET[rest % 62];
    rest = Math.floor(rest / 62);
  }
  if (rest > 0) throw new RangeError(`value needs more than ${width} base62 characters`);
  return chars.join("");
}

/** The bytes as one big-endian unsigned integer. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/** True when every character is in the base62 alphabet. */
export function isBase62(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (!ok) return false;
  }
  return true;
}
