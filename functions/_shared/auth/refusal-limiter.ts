/**
 * Limits on refused sign-ins (`GET /auth/callback/<provider>`) and refused
 * code exchanges (`POST /auth/token`), each held across the cluster in
 * shared counters (counters/window-limiter.ts), per minute:
 *
 * - per client address (AUTH_FAILURES_PER_MINUTE, default 30), the address
 *   the key failure limit uses (client-address.ts), both routes together;
 *   checked before the attempt costs anything (a provider round trip, a
 *   statement), so an address past it gets 429 and nothing is done;
 * - per account (AUTH_ACCOUNT_FAILURES_PER_MINUTE, default 10), once the
 *   attempt names one: for a sign-in the provider identity (provider and
 *   subject, hashed) the provider vouched for, checked before the user is
 *   written; for a code exchange the user of a code that exists. An
 *   account's refusals come only from someone who signed in as it at the
 *   provider, or holds its code: no one can lock another person out.
 *
 * What counts is a refusal for the client's reason (a mismatched state, an
 * error from the provider, an unverified email, an inactive user, a wrong
 * code or verifier), and an attempt throttled by its account. A success, and
 * a failure on our side (internal_error, service_unavailable), count
 * nothing: an outage never turns into 429s. Bad input that never became an
 * attempt (a malformed body) counts nothing and writes nothing.
 *
 * Past a limit, an attempt is answered 429 with Retry-After, and is not
 * recorded as its own audit event: one `<action>.throttled` event per bucket
 * and window says so instead, with the count so far, recorded once for the
 * cluster (audit/throttled-event.ts). So a flood writes at most the
 * refusals admitted (the limit, plus isolates x a tenth of it) and one event
 * per window and route, not one per attempt.
 */
import { requestMeta } from "../audit/request-meta.ts";
import { recordThrottledEvent } from "../audit/throttled-event.ts";
import type { AuthLimitSettings } from "../config/config.ts";
import { type ClientAddressSettings, loadClientAddressSettings } from "../config/config.ts";
import { runInBackground, runtimeWaitUntil, type WaitUntil } from "../core/background.ts";
import { base64url } from "../core/base64url.ts";
import { KeygateError } from "../core/errors.ts";
import { sha256 } from "../core/hash.ts";
import { type Logger, logError } from "../core/log.ts";
import type { SharedCounters } from "../counters/shared-counters.ts";
import { type Admission, type LimitTicket, WindowLimiter } from "../counters/window-limiter.ts";
import type { Db } from "../db/db.ts";

/** The route an attempt is on: the name of its throttled event. */
export type RefusalAction = "sign_in" | "token";

export interface RefusalAttempt {
  /** The attempt concerns this account: throws 429 `rate_limited` when the account is past its limit. */
  concerns(account: string, targetUserId?: string | null): void;
  /** The attempt was refused for the client's reason: it counts against the address and the account. */
  refused(): void;
  /** Ends the attempt (call once, in a `finally`): what was not refused counts nothing. */
  end(): void;
}

export interface RefusalLimiter {
  /** Before an attempt: throws 429 `rate_limited` when `address` is past its limit. */
  begin(req: Request, address: string | null, action: RefusalAction, details?: Record<string, string>): RefusalAttempt;
}

export interface RefusalLimiterDeps {
  db: Db;
  settings: AuthLimitSettings;
  counters: SharedCounters;
  /** Who the client is, for the audit events (config.clientAddress); the defaults without it. */
  clientAddress?: ClientAddressSettings;
  now?: () => number;
  waitUntil?: WaitUntil;
  log?: Logger;
}

/** The account of a provider identity: a hash, so no subject is kept in the counters. */
export function identityAccount(provider: string, subject: string): string {
  return `identity:${base64url(sha256(`${provider}\n${subject}`)).slice(0, 22)}`;
}

/** The account of a user, as a code exchange knows it. */
export function userAccount(userId: string): string {
  return `user:${userId}`;
}

function rateLimited(retryAfterSeconds: number): KeygateError {
  return new KeygateError("rate_limited", "Too many refused sign-in attempts. Try again later.", {
    headers: { "retry-after": String(retryAfterSeconds) },
  });
}

const NO_ATTEMPT: RefusalAttempt = Object.freeze({ concerns() {}, refused() {}, end() {} });

export function createRefusalLimiter({
  db,
  settings,
  counters,
  clientAddress = loadClientAddressSettings({}),
  now = Date.now,
  waitUntil,
  log = logError,
}: RefusalLimiterDeps): RefusalLimiter {
  const limiter = (name: string, limit: number) =>
    limit > 0 ? new WindowLimiter({ name, limit, windowSeconds: 60, counters }) : null;
  const byAddress = limiter("auth_failures", settings.failuresPerMinute);
  const byAccount = limiter("auth_account_failures", settings.accountFailuresPerMinute);
  // Throttled events this isolate asked for, in the current window: one ask per bucket is enough.
  let askedWindow = -1;
  const asked = new Set<string>();

  /** Refuses with 429; past the limit (not the share) the bucket's throttled event is recorded once. */
  function refuse(
    req: Request,
    limit: WindowLimiter,
    key: string,
    admission: Exclude<Admission, { kind: "admit" }>,
    event: { action: RefusalAction; scope: "address" | "account"; targetUserId?: string | null },
    details: Record<string, string>,
  ): never {
    if (admission.kind === "wait") throw rateLimited(1);
    if (admission.reason === "limit") {
      const at = now();
      const window = limit.windowOf(at);
      if (window.start !== askedWindow) {
        askedWindow = window.start;
        asked.clear();
      }
      const claim = `${event.action}.throttled:${limit.bucketOf(key, at)}`;
      if (!asked.has(claim)) {
        asked.add(claim);
        runInBackground(
          recordThrottledEvent(
            db,
            requestMeta(req, clientAddress),
            {
              action: `${event.action}.throttled`,
              claim,
              windowSeconds: limit.window.seconds,
              windowStart: window.start,
              targetUserId: event.targetUserId,
              details: {
                ...details,
                scope: event.scope,
                limit: limit.limit,
                window_seconds: limit.window.seconds,
                refused: admission.counted,
              },
            },
            log,
          ),
          () => {},
          waitUntil ?? runtimeWaitUntil(),
        );
      }
    }
    throw rateLimited(admission.retryAfterSeconds);
  }

  return {
    begin(req, address, action, details = {}) {
      if (!byAddress && !byAccount) return NO_ATTEMPT;
      let ticket: LimitTicket | null = null;
      if (byAddress && address) {
        const admission = byAddress.acquire(address, now());
        if (admission.kind !== "admit")
          refuse(req, byAddress, address, admission, { action, scope: "address" }, details);
        ticket = admission.ticket;
      }
      let account: string | null = null;
      let counted = false;
      let ended = false;
      return {
        concerns(name, targetUserId = null) {
          if (!byAccount) return;
          const admission = byAccount.check(name, now());
          if (admission.kind !== "admit") {
            // Still an attempt refused from this address: a throttled account costs the address too.
            counted = true;
            refuse(req, byAccount, name, admission, { action, scope: "account", targetUserId }, details);
          }
          account = name;
        },
        refused() {
          counted = true;
          if (account && byAccount) byAccount.count(account, now());
          account = null;
        },
        end() {
          if (ended) return;
          ended = true;
          if (ticket && byAddress) byAddress.release(ticket, counted, now());
        },
      };
    },
  };
}
