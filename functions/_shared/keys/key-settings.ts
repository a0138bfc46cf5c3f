/**
 * API key settings beyond config.ts, from the environment:
 *
 * | variable                    | default | meaning                                          |
 * | --------------------------- | ------- | ------------------------------------------------ |
 * | `API_KEY_CREATE_PER_MINUTE` | 10      | keys a user may create or rotate per minute      |
 * | `API_KEY_CACHE_TTL_MS`      | 5000    | verification cache lifetime, 0..10000 (0 = off); |
 * |                             |         | the most a revocation or deactivation can lag    |
 * | `API_KEY_FAILURES_PER_MINUTE` | 60    | verifications that read the database and found   |
 * |                             |         | no live key, per client address (0 = no limit)   |
 * | `CLIENT_IP_HEADER`          | `cf-connecting-ip` | the header the platform sets to the   |
 * |                             |         | client's address (`none`: no per-client limit)   |
 */

import { DEFAULT_CLIENT_IP_HEADER } from "../client-address.ts";
import type { Env } from "../config.ts";
import { DEFAULT_FAILURES_PER_MINUTE } from "./failure-limiter.ts";
import { DEFAULT_CACHE_TTL_MS } from "./verify.ts";
import { MAX_CACHE_TTL_MS } from "./verify-cache.ts";

export const DEFAULT_CREATE_PER_MINUTE = 10;

export interface KeySettings {
  createPerMinute: number;
  cacheTtlMs: number;
  failuresPerMinute: number;
  /** Null: no header vouches for the client's address. */
  clientIpHeader: string | null;
}

function wholeNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function headerName(env: Env): string | null {
  const raw = env.CLIENT_IP_HEADER?.trim().toLowerCase();
  if (!raw) return DEFAULT_CLIENT_IP_HEADER;
  if (raw === "none") return null;
  if (!/^[a-z0-9-]{1,64}$/.test(raw)) throw new Error("CLIENT_IP_HEADER must be a header name (or none)");
  return raw;
}

export function loadKeySettings(env: Env): KeySettings {
  return {
    createPerMinute: wholeNumber(env, "API_KEY_CREATE_PER_MINUTE", DEFAULT_CREATE_PER_MINUTE, 1, 1_000_000),
    cacheTtlMs: wholeNumber(env, "API_KEY_CACHE_TTL_MS", DEFAULT_CACHE_TTL_MS, 0, MAX_CACHE_TTL_MS),
    failuresPerMinute: wholeNumber(env, "API_KEY_FAILURES_PER_MINUTE", DEFAULT_FAILURES_PER_MINUTE, 0, 1_000_000),
    clientIpHeader: headerName(env),
  };
}
