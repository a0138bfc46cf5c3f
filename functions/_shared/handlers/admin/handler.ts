/**
 * `admin`: user and organization administration for holders of admin
 * capabilities (docs/api.md). `GET /admin/me` tells any signed-in user what
 * they may do here; a user's keys come back without a key or a hash;
 * deactivating a user ends every session of the user at once; an
 * organization can be deactivated and reactivated (`users.manage`).
 *
 * Which capability each action needs is the rule of required-capabilities.ts;
 * without it the answer is 403 `forbidden`. A change (role, capabilities,
 * active flag, key revocation) is decided by the SQL function that makes it,
 * under the lock of the rows it depends on, with the target's current role
 * and the actor's current capabilities; here the rule only refuses early
 * what no target would allow. Removing the last active admin (demoting or
 * deactivating them) is 409 `last_admin`, enforced in SQL under a lock.
 * Every change is recorded in the audit log by the SQL function that makes
 * it, in the same transaction. Cookie-authenticated changes need an allowed
 * Origin (CSRF), as in api-keys.
 */
import { z } from "zod";
import { listAuditEvents, parseAuditQuery } from "../../audit/list-events.ts";
import { type RequestMeta, requestMeta } from "../../audit/request-meta.ts";
import type { AuthenticatedUser } from "../../auth/user.ts";
import type { Config } from "../../config/config.ts";
import { type Logger, logError } from "../../core/log.ts";
import type { Db } from "../../db/db.ts";
import type { ApiKeyInfoRow } from "../../db/rows.ts";
import { browserCors } from "../../http/cors.ts";
import { assertAllowedOrigin } from "../../http/csrf.ts";
import { json, notFound, readJson, readQuery } from "../../http/response.ts";
import { createRouter, route } from "../../http/router.ts";
import { ALL_CAPABILITIES, isCapability, ROLES } from "./capabilities.ts";
import { type AdminAction, assertCapabilities, requiredCapabilities } from "./required-capabilities.ts";
import { decodeUserCursor, encodeUserCursor } from "./user-cursor.ts";

export interface AdminHandlerDeps {
  config: Pick<Config, "allowedRedirectOrigins" | "clientAddress">;
  db: Db;
  /** `createUserResolver(...)` from auth/require-user.ts: throws 401 without a signed-in user. */
  resolveUser: (req: Request) => Promise<Pick<AuthenticatedUser, "id" | "via">>;
  log?: Logger;
}

export interface AdminUserRow {
  id: string;
  email: string;
  name: string | null;
  image_url: string | null;
  role: string;
  capabilities: string[];
  is_active: boolean;
  last_login_at: Date | null;
  created_at: Date;
  active_keys: number;
}

const listQuery = z.strictObject({
  query: z.string().max(200).optional(),
  cursor: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

/** `GET /admin/orgs`: the first `limit` organizations by name, narrowed by `query` (no cursor). */
const orgListQuery = z.strictObject({
  query: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(100),
});

const updateBody = z
  .strictObject({
    role: z.enum(ROLES).optional(),
    capabilities: z
      .array(z.string().refine(isCapability, { message: `unknown capability; known: ${ALL_CAPABILITIES.join(", ")}` }))
      .max(ALL_CAPABILITIES.length * 2)
      .optional(),
  })
  .refine((b) => b.role !== undefined || b.capabilities !== undefined, { message: "send role, capabilities or both" });

function presentUser(u: AdminUserRow) {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    image_url: u.image_url,
    role: u.role,
    capabilities: u.capabilities,
    is_active: u.is_active,
    last_login_at: u.last_login_at,
    created_at: u.created_at,
    active_keys: u.active_keys,
  };
}

const noStore = { "cache-control": "no-store" };

/** Who is asking: their id, the capabilities they hold, and the check of one action against them. */
interface Caller {
  id: string;
  held: string[];
  need(action: AdminAction): void;
  meta: RequestMeta;
}

export function createAdminHandler({
  config,
  db,
  resolveUser,
  log = logError,
}: AdminHandlerDeps): (req: Request) => Promise<Response> {
  const routes = [
    route("GET", "/admin/me", asAdmin(me)),
    route("GET", "/admin/users", asAdmin(listUsers)),
    route("GET", "/admin/users/:id(uuid)", asAdmin(getUser)),
    route("PATCH", "/admin/users/:id(uuid)", asAdmin(updateUser)),
    route("POST", "/admin/users/:id(uuid)/deactivate", asAdmin(setActive(false))),
    route("POST", "/admin/users/:id(uuid)/reactivate", asAdmin(setActive(true))),
    route("DELETE", "/admin/keys/:id(uuid)", asAdmin(revokeKey)),
    route("GET", "/admin/audit", asAdmin(audit)),
    route("GET", "/admin/orgs", asAdmin(listOrgs)),
    route("POST", "/admin/orgs/:id(uuid)/deactivate", asAdmin(setOrgActive(false))),
    route("POST", "/admin/orgs/:id(uuid)/reactivate", asAdmin(setOrgActive(true))),
  ];

  /**
   * The signed-in caller with their capabilities, or 401; a cookie-authenticated
   * change needs an allowed Origin (CSRF).
   */
  function asAdmin<P>(
    fn: (req: Request, caller: Caller, params: P) => Promise<Response>,
  ): (req: Request, params: P) => Promise<Response> {
    return async (req, params) => {
      const actor = await resolveUser(req);
      if (actor.via === "session" && req.method !== "GET") assertAllowedOrigin(req, config.allowedRedirectOrigins);
      const held = await capabilitiesOf(actor.id);
      const need = (action: AdminAction) => assertCapabilities(held, requiredCapabilities(action));
      return await fn(req, { id: actor.id, held, need, meta: requestMeta(req, config.clientAddress) }, params);
    };
  }

  async function capabilitiesOf(userId: string): Promise<string[]> {
    const [row] = await db.query<{ capabilities: string[] }>(
      "select keygate.effective_capabilities($1) as capabilities",
      [userId],
    );
    return row?.capabilities ?? [];
  }

  async function targetUser(id: string): Promise<AdminUserRow> {
    const [user] = await db.query<AdminUserRow>("select * from keygate.admin_get_user($1)", [id]);
    if (!user) throw notFound();
    return user;
  }

  async function me(_req: Request, caller: Caller): Promise<Response> {
    return json({ capabilities: caller.held }, { headers: noStore });
  }

  async function listUsers(req: Request, caller: Caller): Promise<Response> {
    caller.need({ kind: "list_users" });
    const q = readQuery(req, listQuery);
    const after = q.cursor ? decodeUserCursor(q.cursor) : null;
    const rows = await db.query<AdminUserRow>("select * from keygate.admin_list_users($1, $2, $3, $4)", [
      q.query?.trim() || null,
      after?.email ?? null,
      after?.id ?? null,
      q.limit + 1,
    ]);
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return json(
      {
        users: page.map(presentUser),
        next_cursor: rows.length > q.limit ? encodeUserCursor(last) : null,
      },
      { headers: noStore },
    );
  }

  async function getUser(_req: Request, caller: Caller, { id }: { id: string }): Promise<Response> {
    caller.need({ kind: "get_user" });
    const user = await targetUser(id);
    const keys = await db.query<ApiKeyInfoRow>("select * from keygate.list_api_keys($1)", [id]);
    return json({ user: presentUser(user), keys }, { headers: noStore });
  }

  async function audit(req: Request, caller: Caller): Promise<Response> {
    caller.need({ kind: "read_audit" });
    const page = await listAuditEvents(db, parseAuditQuery(new URL(req.url)));
    return json(page, { headers: noStore });
  }

  async function updateUser(req: Request, caller: Caller, { id }: { id: string }): Promise<Response> {
    const body = await readJson(req, updateBody);
    // What any target needs, early, so a caller without it learns nothing about the target. What this
    // target needs is decided by the SQL function, under its lock.
    caller.need({ kind: "update_user", targetRole: "", role: body.role, capabilities: body.capabilities });
    const [user] = await db.query<AdminUserRow>("select * from keygate.admin_update_user($1, $2, $3, $4, $5, $6)", [
      caller.id,
      id,
      body.role ?? null,
      body.capabilities ?? null,
      caller.meta.clientAddress,
      caller.meta.userAgent,
    ]);
    return json({ user: presentUser(user) }, { headers: noStore });
  }

  function setActive(active: boolean) {
    return async (_req: Request, caller: Caller, { id }: { id: string }): Promise<Response> => {
      caller.need({ kind: "set_active", targetRole: "" });
      const [user] = await db.query<AdminUserRow>("select * from keygate.admin_set_user_active($1, $2, $3, $4, $5)", [
        caller.id,
        id,
        active,
        caller.meta.clientAddress,
        caller.meta.userAgent,
      ]);
      return json({ user: presentUser(user) }, { headers: noStore });
    };
  }

  async function revokeKey(_req: Request, caller: Caller, { id }: { id: string }): Promise<Response> {
    caller.need({ kind: "revoke_key" });
    const rows = await db.query("select * from keygate.admin_revoke_key($1, $2, $3, $4)", [
      caller.id,
      id,
      caller.meta.clientAddress,
      caller.meta.userAgent,
    ]);
    if (rows.length === 0) throw notFound();
    return new Response(null, { status: 204 });
  }

  async function listOrgs(req: Request, caller: Caller): Promise<Response> {
    caller.need({ kind: "list_orgs" });
    const q = readQuery(req, orgListQuery);
    const orgs = await db.query(
      "select id, slug, name, created_at, deactivated_at, members, owners from keygate.admin_list_organizations($1, $2, $3)",
      [caller.id, q.query?.trim() || null, q.limit],
    );
    return json({ orgs }, { headers: noStore });
  }

  function setOrgActive(active: boolean) {
    return async (_req: Request, caller: Caller, { id }: { id: string }): Promise<Response> => {
      caller.need({ kind: "set_org_active" });
      await db.query("select keygate.admin_set_organization_active($1, $2, $3, $4, $5)", [
        caller.id,
        id,
        active,
        caller.meta.clientAddress,
        caller.meta.userAgent,
      ]);
      return new Response(null, { status: 204 });
    };
  }

  return createRouter(routes, { cors: browserCors(config.allowedRedirectOrigins), log });
}
