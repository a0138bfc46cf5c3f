/**
 * API key settings beyond config.ts, from the environment:
 *
 * | variable                    | default | meaning                                          |
 * | --------------------------- | ------- | ------------------------------------------------ |
 * | `API_KEY_CREATE_PER_MINUTE` | 10      | keys a user may create or rotate per minute      |
 * | `API_KEY_CACHE_TTL_MS`      | 5000    | verification cache lifetime, 0..10000 (0 = off); |
 * |                             |         | the most a revocation or deactivation can lag    |
 */
import type { Env } from "../config.ts";
import { MAX_CACHE_TTL_MS } from "./verify-cache.ts";
import { DEFAULT_CACHE_TTL_MS } from "./verify.ts";

export const DEFAULT_CREATE_PER_MINUTE = 10;

export interface KeySettings {
  createPerMinute: number;
  cacheTtlMs: number;
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

export function loadKeySettings(env: Env): KeySettings {
  return {
    createPerMinute: wholeNumber(env, "API_KEY_CREATE_PER_MINUTE", DEFAULT_CREATE_PER_MINUTE, 1, 1_000_000),
    cacheTtlMs: wholeNumber(env, "API_KEY_CACHE_TTL_MS", DEFAULT_CACHE_TTL_MS, 0, MAX_CACHE_TTL_MS),
  };
}
