/**
 * Readers of one environment variable each: a value that does not parse
 * stops the functions at start-up with a message naming the variable. No
 * I/O: they read the record they are handed.
 */
import { isLoopbackHost } from "../core/loopback.js";
import { nonBlank } from "../core/non-blank.ts";

export type Env = Record<string, string | undefined>;

export function present(value: string | undefined): string | undefined {
  return nonBlank(value) ?? undefined;
}

export function trueOrFalse(value: string | undefined, name: string): boolean {
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  throw new Error(`${name} must be true or false`);
}

export function wholeNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** Provider and JWKS URLs must be https, except on loopback hosts. */
export function assertSecureUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} is not a valid URL`);
  }
  if (url.protocol === "https:") return value;
  if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return value;
  throw new Error(`${name} must use https (http is accepted only on loopback hosts)`);
}

/**
 * An http(s) origin and nothing else: no path, query, fragment or credentials.
 * Anything else (a host without a scheme, `file:`, `data:`) would become the
 * opaque origin "null", which any sandboxed page can send as its `Origin`.
 */
export function httpOrigin(value: string, name: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  const bare =
    url !== undefined &&
    (url.protocol === "https:" || url.protocol === "http:") &&
    url.username === "" &&
    url.password === "" &&
    url.pathname === "/" &&
    !/[?#]/.test(value);
  if (!url || !bare || url.origin === "null") {
    throw new Error(
      `${name}: "${value}" is not an http(s) origin; write it as scheme://host[:port], e.g. https://app.example.com`,
    );
  }
  return url.origin;
}
