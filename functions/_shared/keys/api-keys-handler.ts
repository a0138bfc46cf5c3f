/**
 * `api-keys`: a signed-in user's keys (DESIGN.md section 5).
 *
 *   POST   /api-keys              {name?, scopes?, expires_in_days?} -> 201 with the key, once
 *   GET    /api-keys              -> 200 {keys: [...]}, never a key or a hash
 *   DELETE /api-keys/<id>         -> 204; not the caller's key (or not a uuid) -> 404
 *   POST   /api-keys/<id>/rotate  {grace_seconds?: 0..86400, default 3600} -> 201 like create
 *
 * A key created without `scopes` gets every documented scope; `[]` makes a
 * key that only identifies its owner. Cookie-authenticated POST/DELETE need
 * an allowed Origin (CSRF). Creation and rotation are limited per user to
 * `maxPerMinute` (429 with Retry-After) and creation to `maxActive` live keys
 * (409), both enforced in SQL under a lock on the user's row.
 */
import { z } from "zod";
import type { Config } from "../config.ts";
import { withCors } from "../cors.ts";
import { assertAllowedOrigin } from "../csrf.ts";
import type { Db } from "../db.ts";
import { handleErrors, json, type Logger, logError, methodNotAllowed, notFound, readJson, subPath } from "../http.ts";
import { generateApiKey, keyStart, type RandomBytes } from "./format.ts";
import { sha256 } from "../hash.ts";
import { DEFAULT_CREATE_PER_MINUTE } from "./key-settings.ts";
import { ALL_SCOPES, isScope } from "./scopes.ts";
import type { ApiKeyInfoRow } from "../db-rows.ts";

export const DEFAULT_GRACE_SECONDS = 3600;
export const DEFAULT_MAX_ACTIVE_KEYS = 25;

export interface RequestUser {
  id: string;
  via: "session" | "bearer";
}

export interface ApiKeysHandlerDeps {
  config: Pick<Config, "allowedRedirectOrigins" | "apiKeyPrefix">;
  db: Db;
  /** `createUserResolver(...)` from auth/require-user.ts: throws 401 without a signed-in user. */
  resolveUser: (req: Request) => Promise<RequestUser>;
  now?: () => number;
  random?: RandomBytes;
  maxActive?: number;
  maxPerMinute?: number;
  log?: Logger;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
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

type Route = { action: "create" | "list" } | { action: "revoke" | "rotate"; id: string };

function route(req: Request): Route {
  const path = subPath(req, "api-keys");
  if (path.length === 0) {
    if (req.method === "POST") return { action: "create" };
    if (req.method === "GET") return { action: "list" };
    throw methodNotAllowed(["GET", "POST", "OPTIONS"]);
  }
  const id = path[0];
  if (!UUID.test(id)) throw notFound();
  if (path.length === 1) {
    if (req.method === "DELETE") return { action: "revoke", id };
    throw methodNotAllowed(["DELETE", "OPTIONS"]);
  }
  if (path.length === 2 && path[1] === "rotate") {
    if (req.method === "POST") return { action: "rotate", id };
    throw methodNotAllowed(["POST", "OPTIONS"]);
  }
  throw notFound();
}

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
  function newKey() {
    const key = generateApiKey(config.apiKeyPrefix, random);
    return { key, start: keyStart(key), hash: sha256(key) };
  }

  async function create(req: Request, user: RequestUser): Promise<Response> {
    const body = await readJson(req, createBody);
    const { key, start, hash } = newKey();
    const scopes = body.scopes ? [...new Set(body.scopes)] : ALL_SCOPES;
    const expiresAt = body.expires_in_days ? new Date(now() + body.expires_in_days * DAY_MS).toISOString() : null;
    const [info] = await db.query<ApiKeyInfoRow>(
      "select * from keygate.create_api_key($1, $2, $3, $4, $5, $6, $7, $8)",
      [user.id, body.name ?? "API key", start, hash, scopes, expiresAt, maxActive, maxPerMinute],
      "kg_create_api_key",
    );
    return created(info, key);
  }

  async function rotate(req: Request, user: RequestUser, id: string): Promise<Response> {
    const body = await readJson(req, rotateBody);
    const { key, start, hash } = newKey();
    const [info] = await db.query<ApiKeyInfoRow>(
      "select * from keygate.rotate_api_key($1, $2, $3, $4, $5, $6)",
      [user.id, id, body.grace_seconds ?? DEFAULT_GRACE_SECONDS, start, hash, maxPerMinute],
      "kg_rotate_api_key",
    );
    return created(info, key);
  }

  async function list(user: RequestUser): Promise<Response> {
    const keys = await db.query<ApiKeyInfoRow>("select * from keygate.list_api_keys($1)", [user.id], "kg_list_api_keys");
    return json({ keys }, { headers: { "cache-control": "no-store" } });
  }

  async function revoke(user: RequestUser, id: string): Promise<Response> {
    const [row] = await db.query<{ found: boolean }>(
      "select keygate.revoke_api_key($1, $2) as found",
      [user.id, id],
      "kg_revoke_api_key",
    );
    if (!row?.found) throw notFound();
    return new Response(null, { status: 204 });
  }

  const handle = handleErrors(async (req) => {
    const target = route(req);
    const user = await resolveUser(req);
    if (user.via === "session" && req.method !== "GET") assertAllowedOrigin(req, config.allowedRedirectOrigins);
    switch (target.action) {
      case "create":
        return await create(req, user);
      case "list":
        return await list(user);
      case "revoke":
        return await revoke(user, target.id);
      case "rotate":
        return await rotate(req, user, target.id);
    }
  }, log);

  return withCors(config.allowedRedirectOrigins, "GET, POST, DELETE, OPTIONS", handle);
}
