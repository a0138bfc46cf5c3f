/**
 * SHA-256 of a key: what the database stores and looks keys up by. The
 * plaintext is never stored; the hash alone cannot be used as a key.
 */
const encoder = new TextEncoder();

export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** Lower-case hex, e.g. for cache keys and logs that must not hold a secret. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}
