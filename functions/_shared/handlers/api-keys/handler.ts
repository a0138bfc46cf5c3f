/**
 * `api-keys`: a signed-in user's keys (docs/api.md). A new or rotated key is
 * in its 201 answer once, and nowhere else; a list never carries a key or a
 * hash; an id that is not the caller's key is 404. A key created without `scopes` gets every documented scope the owner's role
 * allows; `[]` makes a key that only identifies its owner. Asking for a scope
 * above the role (creating, or rotating a key whose scopes the role no longer
 * allows) is 403 `scope_above_role`. Creations, rotations and revocations are
 * recorded in the audit log in the same statement that makes them. Cookie-authenticated POST/DELETE need
 * an allowed Origin (CSRF). Creation and rotation are limited per user to
 * `maxPerMinute` (429 with Retry-After) and creation to `maxActive` live keys
 * (409), both enforced in SQL under a lock on the user's row.
 */
import { z } from "zod";
import { recordAuditEvent } from "../../audit/record-event.ts";
import { requestMeta } from "../../audit/request-meta.ts";
import { signedInRoutes } from "../../auth/signed-in.ts";
import type { AuthenticatedUser } from "../../auth/user.ts";
import type { Config } from "../../config/config.ts";
import { DEFAULT_CREATE_PER_MINUTE } from "../../config/defaults.ts";
import { KeygateError } from "../../core/errors.ts";
import { sha256 } from "../../core/hash.ts";
import { type Logger, logError } from "../../core/log.ts";
import type { Db } from "../../db/db.ts";
import type { ApiKeyInfoRow } from "../../db/rows.ts";
import { browserCors } from "../../http/cors.ts";
import { json, notFound, readJson } from "../../http/response.ts";
import { createRouter, route } from "../../http/router.ts";
import { generateApiKey, keyStart, type RandomBytes } from "../../keys/format.ts";
import { ALL_SCOPES, isScope } from "../../keys/scopes.ts";

export const DEFAULT_GRACE_SECONDS = 3600;
export const DEFAULT_MAX_ACTIVE_KEYS = 25;

/** What this handler needs of the signed-in user. */
type RequestUser = Pick<AuthenticatedUser, "id" | "via">;

export interface ApiKeysHandlerDeps {
  config: Pick<Config, "allowedRedirectOrigins" | "apiKeyPrefix" | "clientAddress">;
  db: Db;
  /** `createUserResolver(...)` from auth/require-user.ts: throws 401 without a signed-in user. */
  resolveUser: (req: Request) => Promise<RequestUser>;
  now?: () => number;
  random?: RandomBytes;
  maxActive?: number;
  maxPerMinute?: number;
  log?: Logger;
}

const DAY_MS = 86_400_000;

const createBody = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  scopes: z
    .array(z.string().refine(isScope, { message: `unknown scope; known scopes: ${ALL_SCOPES.join(", ")}` }))
    .max(32)
    .optional(),
  expires_in_days: z.number().int().min(1).max(365).optional(),
});

const rotateBody = z.strictObject({
  grace_seconds: z.number().int().min(0).max(86_400).optional(),
});

/** The creation response: the only one that ever carries a plaintext key. */
function created(info: ApiKeyInfoRow, key: string): Response {
  return json(
    {
      id: info.id,
      key,
      start: info.start,
      name: info.name,
      scopes: info.scopes,
      created_at: info.created_at,
      expires_at: info.expires_at,
    },
    { status: 201, headers: { "cache-control": "no-store" } },
  );
}

export function createApiKeysHandler({
  config,
  db,
  resolveUser,
  now = Date.now,
  random,
  maxActive = DEFAULT_MAX_ACTIVE_KEYS,
  maxPerMinute = DEFAULT_CREATE_PER_MINUTE,
  log = logError,
}: ApiKeysHandlerDeps): (req: Request) => Promise<Response> {
  const signedIn = signedInRoutes(resolveUser, config.allowedRedirectOrigins);
  const routes = [
    route("GET", "/api-keys", signedIn(list)),
    route("POST", "/api-keys", signedIn(create)),
    route("DELETE", "/api-keys/:id(uuid)", signedIn(revoke)),
    route("POST", "/api-keys/:id(uuid)/rotate", signedIn(rotate)),
  ];

  function newKey() {
    const key = generateApiKey(config.apiKeyPrefix, random);
    return { key, start: keyStart(key), hash: sha256(key) };
  }

  /** The scopes (of a new key, or of the key `keyId`) that the owner's role does not allow. */
  async function scopesAboveRole(
    user: RequestUser,
    scopes: readonly string[] | null,
    keyId: string | null,
  ): Promise<string[]> {
    const [row] = await db.query<{ above: string[] }>("select keygate.scopes_above_role($1, $2, $3) as above", [
      user.id,
      scopes,
      keyId,
    ]);
    return row?.above ?? [];
  }

  async function refuseAboveRole(
    req: Request,
    user: RequestUser,
    action: string,
    above: string[],
    keyId: string | null,
  ) {
    await recordAuditEvent(
      db,
      requestMeta(req, config.clientAddress),
      {
        action,
        outcome: "failure",
        actorId: user.id,
        targetUserId: user.id,
        targetKeyId: keyId,
        reason: "scope_above_role",
        details: { scopes: above },
      },
      log,
    );
    throw new KeygateError("scope_above_role", `Your role does not allow the scope ${above.join(", ")}.`);
  }

  async function create(req: Request, user: RequestUser): Promise<Response> {
    const body = await readJson(req, createBody);
    const { key, start, hash } = newKey();
    let scopes: string[];
    if (body.scopes) {
      scopes = [...new Set(body.scopes)];
      const above = await scopesAboveRole(user, scopes, null);
      if (above.length > 0) await refuseAboveRole(req, user, "key.created", above, null);
    } else {
      const above = await scopesAboveRole(user, ALL_SCOPES, null);
      scopes = ALL_SCOPES.filter((scope) => !above.includes(scope));
    }
    const expiresAt = body.expires_in_days ? new Date(now() + body.expires_in_days * DAY_MS).toISOString() : null;
    const meta = requestMeta(req, config.clientAddress);
    const [info] = await db.query<ApiKeyInfoRow>(
      `select k.*, keygate.append_audit_event('key.created', 'success', $1, $1, k.id, null, $9, $10,
                     jsonb_build_object('name', k.name, 'scopes', to_jsonb(k.scopes)))
         from keygate.create_api_key($1, $2, $3, $4, $5, $6, $7, $8) k`,
      [
        user.id,
        body.name ?? "API key",
        start,
        hash,
        scopes,
        expiresAt,
        maxActive,
        maxPerMinute,
        meta.clientAddress,
        meta.userAgent,
      ],
    );
    return created(info, key);
  }

  async function rotate(req: Request, user: RequestUser, { id }: { id: string }): Promise<Response> {
    const body = await readJson(req, rotateBody);
    const above = await scopesAboveRole(user, null, id);
    if (above.length > 0) await refuseAboveRole(req, user, "key.rotated", above, id);
    const { key, start, hash } = newKey();
    const grace = body.grace_seconds ?? DEFAULT_GRACE_SECONDS;
    const meta = requestMeta(req, config.clientAddress);
    const [info] = await db.query<ApiKeyInfoRow>(
      `select k.*, keygate.append_audit_event('key.rotated', 'success', $1, $1, k.id, null, $7, $8,
                     jsonb_build_object('name', k.name, 'replaces', $9::text, 'grace_seconds', $3::integer))
         from keygate.rotate_api_key($1, $2, $3, $4, $5, $6) k`,
      [user.id, id, grace, start, hash, maxPerMinute, meta.clientAddress, meta.userAgent, id],
    );
    return created(info, key);
  }

  async function list(_req: Request, user: RequestUser): Promise<Response> {
    const keys = await db.query<ApiKeyInfoRow>("select * from keygate.list_api_keys($1)", [user.id]);
    return json({ keys }, { headers: { "cache-control": "no-store" } });
  }

  async function revoke(req: Request, user: RequestUser, { id }: { id: string }): Promise<Response> {
    const meta = requestMeta(req, config.clientAddress);
    const [row] = await db.query<{ found: boolean }>(
      `with r as materialized (select keygate.revoke_api_key($1, $2) as found)
       select r.found, case when r.found then keygate.append_audit_event('key.revoked', 'success', $1, $1, $2, null, $3, $4) end
         from r`,
      [user.id, id, meta.clientAddress, meta.userAgent],
    );
    if (!row?.found) throw notFound();
    return new Response(null, { status: 204 });
  }

  return createRouter(routes, { cors: browserCors(config.allowedRedirectOrigins), log });
}
