/**
 * SHA-256 of a secret (an API key, a session token): what the database
 * stores and looks it up by. The plaintext is never stored; the hash alone
 * cannot be used in its place.
 *
 * Synchronous, from @noble/hashes (audited, pure JS, runs unchanged on Deno
 * and Node) rather than `crypto.subtle.digest`: on the verification hot path
 * the async Web Crypto call cost much of the throughput and peak memory per
 * isolate under load (figures in docs/benchmark.md).
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

const encoder = new TextEncoder();

export function sha256(text: string): Uint8Array {
  return nobleSha256(encoder.encode(text));
}

/**
 * The bytes as a string of char codes 0-255, made in one allocation: a Map
 * key for a hash on the hot path (hex would cost a string per byte). Not for
 * display or logs.
 */
export function toKeyString(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}
