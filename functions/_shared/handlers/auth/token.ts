/**
 * `POST /auth/token` `{code, code_verifier}`: exchanges the single-use code
 * that a cross-site sign-in returned (in the URL fragment) for a session
 * token, answered as `{access_token, token_type: "bearer", expires_in}` with
 * `Cache-Control: no-store`. The session is the same stateful session the
 * cookie holds (sliding, bounded, ended by logout), carried as
 * `Authorization: Bearer`.
 *
 * The code is consumed atomically with the session's creation, and only when
 * it exists, has not expired, was sent to the request's `Origin`, and
 * base64url(SHA-256(code_verifier)) equals the challenge given at login (RFC
 * 7636 S256). Anything else is `400 invalid_grant` and changes nothing; a
 * replay finds the code gone. A refused exchange of a code that exists (the
 * code may have leaked) is recorded as a `token` failure event for the
 * code's user.
 *
 * Refused exchanges are limited per client address and per account (the
 * code's user), across the cluster (refusal-limiter.ts): past a limit the
 * answer is 429 `rate_limited` with Retry-After, and one `token.throttled`
 * event per window replaces the events one by one. A malformed body is 400
 * and counts nothing.
 */
import { z } from "zod";
import { recordAuditEvent } from "../../audit/record-event.ts";
import { requestMeta } from "../../audit/request-meta.ts";
import { SIGN_IN_CODE_SHAPE } from "../../auth/code-shapes.ts";
import { type RefusalLimiter, userAccount } from "../../auth/refusal-limiter.ts";
import { createSessionStore, SESSION_TTL_SECONDS } from "../../auth/sessions.ts";
import { hashSignInCode } from "../../auth/sign-in.ts";
import type { ClientAddressSettings } from "../../config/config.ts";
import { base64url } from "../../core/base64url.ts";
import { KeygateError } from "../../core/errors.ts";
import { sha256 } from "../../core/hash.ts";
import { type Logger, logError } from "../../core/log.ts";
import type { Db } from "../../db/db.ts";
import { json, readJson } from "../../http/response.ts";

const tokenBody = z.strictObject({
  code: z.string().regex(SIGN_IN_CODE_SHAPE, { message: "not a sign-in code" }),
  // RFC 7636 section 4.1: 43-128 unreserved characters.
  code_verifier: z.string().regex(/^[A-Za-z0-9._~-]{43,128}$/, { message: "not a code verifier" }),
});

/** RFC 7636 S256: the challenge a verifier answers. */
export function s256(verifier: string): string {
  return base64url(sha256(verifier));
}

function invalidGrant(): KeygateError {
  return new KeygateError(
    "invalid_grant",
    "This sign-in code is not valid: it was already used, it expired, or it belongs to another page. Sign in again.",
  );
}

export const EXCHANGE_SIGN_IN_CODE = "select user_id, redeemed from keygate.exchange_sign_in_code($1, $2, $3, $4, $5)";

export function createTokenHandler(
  db: Db,
  limits: RefusalLimiter,
  clientAddress: ClientAddressSettings,
  log: Logger = logError,
): (req: Request, client: string | null) => Promise<Response> {
  const sessions = createSessionStore(db);
  return async (req, client) => {
    const body = await readJson(req, tokenBody);
    const attempt = limits.begin(req, client, "token");
    try {
      const origin = req.headers.get("origin");
      if (!origin) {
        attempt.refused();
        throw invalidGrant();
      }
      const { token, tokenHash } = await sessions.newToken();
      const rows = await db.query<{ user_id: string; redeemed: boolean }>(EXCHANGE_SIGN_IN_CODE, [
        hashSignInCode(body.code),
        s256(body.code_verifier),
        origin,
        tokenHash,
        SESSION_TTL_SECONDS,
      ]);
      const code = rows[0];
      if (code?.redeemed) {
        return json(
          { access_token: token, token_type: "bearer", expires_in: SESSION_TTL_SECONDS },
          { headers: { "cache-control": "no-store", pragma: "no-cache" } },
        );
      }
      if (code) attempt.concerns(userAccount(code.user_id), code.user_id);
      attempt.refused();
      if (code) {
        await recordAuditEvent(
          db,
          requestMeta(req, clientAddress),
          { action: "token", outcome: "failure", reason: "invalid_grant", targetUserId: code.user_id },
          log,
        );
      }
      throw invalidGrant();
    } finally {
      attempt.end();
    }
  };
}
