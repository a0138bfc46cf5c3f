/**
 * `api-keys`: a signed-in user's keys, and the keys of their organizations
 * (docs/api.md, docs/organizations.md). A new or rotated key is in its 201
 * answer once, and nowhere else; a list never carries a key or a hash; an id
 * that is not the caller's key, nor a key of one of their organizations, is
 * 404.
 *
 * With `org_id` (in the body to create, in the query to list) the key is the
 * organization's: any member makes one, sees all of them, and revokes or
 * rotates those they made; owners and admins revoke and rotate any (403
 * `forbidden` otherwise). DELETE and rotate find the owner from the key.
 *
 * A key created without `scopes` gets every documented scope the maker's
 * Keygate-wide role allows; `[]` makes a key that only identifies its owner.
 * Asking for a scope above that role (creating, or rotating a key whose
 * scopes the role no longer allows) is 403 `scope_above_role`, in an
 * organization too. Creations, rotations and revocations are recorded in the
 * audit log in the same transaction that makes them. Cookie-authenticated
 * POST/DELETE need an allowed Origin (CSRF). Creation and rotation are
 * limited per owner (the user, or the organization as a whole) to
 * `maxPerMinute` (429 with Retry-After) and creation to `maxActive` live keys
 * (409), both enforced in SQL under a lock on the owner's row.
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
import { UUID_PATTERN } from "../../core/uuid.ts";
import type { Db } from "../../db/db.ts";
import type { ApiKeyInfoRow, OrgApiKeyInfoRow } from "../../db/rows.ts";
import { browserCors } from "../../http/cors.ts";
import { json, notFound, readJson, readQuery } from "../../http/response.ts";
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

const orgId = z.string().regex(UUID_PATTERN, { message: "must be an organization id" });

const createBody = z.strictObject({
  org_id: orgId.optional(),
  name: z.string().trim().min(1).max(100).optional(),
  scopes: z
    .array(z.string().refine(isScope, { message: `unknown scope; known scopes: ${ALL_SCOPES.join(", ")}` }))
    .max(32)
    .optional(),
  expires_in_days: z.number().int().min(1).max(365).optional(),
});

const listQuery = z.strictObject({
  org_id: orgId.optional(),
  /** Only the keys whose maker is no longer a member. */
  created_by: z.literal("former_members").optional(),
});

const rotateBody = z.strictObject({
  grace_seconds: z.number().int().min(0).max(86_400).optional(),
});

/** The creation response: the only one that ever carries a plaintext key. */
function created(info: ApiKeyInfoRow | OrgApiKeyInfoRow, key: string): Response {
  return json(
    {
      id: info.id,
      key,
      start: info.start,
      name: info.name,
      scopes: info.scopes,
      created_at: info.created_at,
      expires_at: info.expires_at,
      ...("org_id" in info ? { org_id: info.org_id, created_by: info.created_by } : {}),
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

  /** The scopes (of a new key, or of the key `keyId`) that the maker's role does not allow. */
  async function scopesAboveRole(
    user: RequestUser,
    scopes: readonly string[] | null,
    keyId: string | null,
  ): Promise<string[]> {
    const [row] = await db.query<{ above: string[] }>("select keygate.key_scopes_above_role($1, $2, $3) as above", [
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
    // The same arguments after the owner: the user, or the organization and its member making the key.
    const rest = [
      body.name ?? "API key",
      start,
      hash,
      scopes,
      expiresAt,
      maxActive,
      maxPerMinute,
      meta.clientAddress,
      meta.userAgent,
    ];
    if (body.org_id) {
      const [info] = await db.query<OrgApiKeyInfoRow>(
        "select * from keygate.create_org_api_key($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        [user.id, body.org_id, ...rest],
      );
      return created(info, key);
    }
    const [info] = await db.query<ApiKeyInfoRow>(
      `select k.*, keygate.append_audit_event('key.created', 'success', $1, $1, k.id, null, $9, $10,
                     jsonb_build_object('name', k.name, 'scopes', to_jsonb(k.scopes)))
         from keygate.create_api_key($1, $2, $3, $4, $5, $6, $7, $8) k`,
      [user.id, ...rest],
    );
    return created(info, key);
  }

  /** The organization owning key `id`: null for a personal key or no key (the SQL decides who may touch it). */
  async function owningOrg(id: string): Promise<string | null> {
    const [row] = await db.query<{ org_id: string | null }>("select org_id from public.api_keys where id = $1", [id]);
    return row?.org_id ?? null;
  }

  async function rotate(req: Request, user: RequestUser, { id }: { id: string }): Promise<Response> {
    const body = await readJson(req, rotateBody);
    const above = await scopesAboveRole(user, null, id);
    if (above.length > 0) await refuseAboveRole(req, user, "key.rotated", above, id);
    const { key, start, hash } = newKey();
    const grace = body.grace_seconds ?? DEFAULT_GRACE_SECONDS;
    const meta = requestMeta(req, config.clientAddress);
    if (await owningOrg(id)) {
      const [info] = await db.query<OrgApiKeyInfoRow>(
        "select * from keygate.rotate_org_api_key($1, $2, $3, $4, $5, $6, $7, $8)",
        [user.id, id, grace, start, hash, maxPerMinute, meta.clientAddress, meta.userAgent],
      );
      return created(info, key);
    }
    const [info] = await db.query<ApiKeyInfoRow>(
      `select k.*, keygate.append_audit_event('key.rotated', 'success', $1, $1, k.id, null, $7, $8,
                     jsonb_build_object('name', k.name, 'replaces', $9::text, 'grace_seconds', $3::integer))
         from keygate.rotate_api_key($1, $2, $3, $4, $5, $6) k`,
      [user.id, id, grace, start, hash, maxPerMinute, meta.clientAddress, meta.userAgent, id],
    );
    return created(info, key);
  }

  async function list(req: Request, user: RequestUser): Promise<Response> {
    const q = readQuery(req, listQuery);
    if (q.created_by && !q.org_id) throw new KeygateError("validation_failed", "created_by: needs org_id");
    const keys = q.org_id
      ? await db.query<OrgApiKeyInfoRow>("select * from keygate.list_org_api_keys($1, $2, $3)", [
          user.id,
          q.org_id,
          q.created_by === "former_members",
        ])
      : await db.query<ApiKeyInfoRow>("select * from keygate.list_api_keys($1)", [user.id]);
    return json({ keys }, { headers: { "cache-control": "no-store" } });
  }

  async function revoke(req: Request, user: RequestUser, { id }: { id: string }): Promise<Response> {
    const meta = requestMeta(req, config.clientAddress);
    if (await owningOrg(id)) {
      await db.query("select keygate.revoke_org_api_key($1, $2, $3, $4)", [
        user.id,
        id,
        meta.clientAddress,
        meta.userAgent,
      ]);
      return new Response(null, { status: 204 });
    }
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
