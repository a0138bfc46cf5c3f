/**
 * `admin`: user administration for holders of admin capabilities.
 *
 *   GET    /admin/me                     -> 200 {capabilities}: what the caller may do here (any signed-in user)
 *   GET    /admin/users?query=&cursor=&limit=  (users.read) -> 200 {users: [...], next_cursor}
 *   GET    /admin/users/<id>             (users.read) -> 200 {user, keys}: never a key or a hash
 *   PATCH  /admin/users/<id>             {role?, capabilities?} -> 200 {user}
 *   POST   /admin/users/<id>/deactivate  (users.manage) -> 200 {user}; every session ends at once
 *   POST   /admin/users/<id>/reactivate  (users.manage) -> 200 {user}
 *   DELETE /admin/keys/<id>              (keys.revoke_any) -> 204
 *   GET    /admin/audit?actor=&target=&user=&action=&outcome=&cursor=&limit=  (audit.read)
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
import { requestMeta } from "../../audit/request-meta.ts";
import type { AuthenticatedUser } from "../../auth/user.ts";
import type { Config } from "../../config/config.ts";
import { KeygateError } from "../../core/errors.ts";
import { type Logger, logError } from "../../core/log.ts";
import { isUuid } from "../../core/uuid.ts";
import type { Db } from "../../db/db.ts";
import type { ApiKeyInfoRow } from "../../db/rows.ts";
import { withCors } from "../../http/cors.ts";
import { assertAllowedOrigin } from "../../http/csrf.ts";
import { handleErrors, json, methodNotAllowed, notFound, readJson, subPath } from "../../http/response.ts";
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

const updateBody = z
  .strictObject({
    role: z.enum(ROLES).optional(),
    capabilities: z
      .array(z.string().refine(isCapability, { message: `unknown capability; known: ${ALL_CAPABILITIES.join(", ")}` }))
      .max(ALL_CAPABILITIES.length * 2)
      .optional(),
  })
  .refine((b) => b.role !== undefined || b.capabilities !== undefined, { message: "send role, capabilities or both" });

type Route =
  | { action: "me" | "list_users" | "audit" }
  | { action: "get_user" | "update_user"; id: string }
  | { action: "set_active"; id: string; active: boolean }
  | { action: "revoke_key"; id: string };

const ALLOW = "GET, POST, PATCH, DELETE, OPTIONS";

function route(req: Request): Route {
  const [first, id, verb, ...rest] = subPath(req, "admin");
  const only = (method: string, r: Route): Route => {
    if (req.method !== method) throw methodNotAllowed([method, "OPTIONS"]);
    return r;
  };
  if (rest.length > 0) throw notFound();
  if (first === "me" && id === undefined) return only("GET", { action: "me" });
  if (first === "audit" && id === undefined) return only("GET", { action: "audit" });
  if (first === "users" && id === undefined) return only("GET", { action: "list_users" });
  if (first === "users" && isUuid(id) && verb === undefined) {
    if (req.method === "GET") return { action: "get_user", id };
    if (req.method === "PATCH") return { action: "update_user", id };
    throw methodNotAllowed(["GET", "PATCH", "OPTIONS"]);
  }
  if (first === "users" && isUuid(id) && (verb === "deactivate" || verb === "reactivate")) {
    return only("POST", { action: "set_active", id, active: verb === "reactivate" });
  }
  if (first === "keys" && isUuid(id) && verb === undefined) return only("DELETE", { action: "revoke_key", id });
  throw notFound();
}

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

function query<T>(url: URL, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(Object.fromEntries(url.searchParams));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new KeygateError("validation_failed", `${where}${issue?.message ?? "invalid query"}`);
  }
  return parsed.data;
}

const noStore = { "cache-control": "no-store" };

export function createAdminHandler({
  config,
  db,
  resolveUser,
  log = logError,
}: AdminHandlerDeps): (req: Request) => Promise<Response> {
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

  async function listUsers(req: Request): Promise<Response> {
    const q = query(new URL(req.url), listQuery);
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

  async function getUser(id: string): Promise<Response> {
    const user = await targetUser(id);
    const keys = await db.query<ApiKeyInfoRow>("select * from keygate.list_api_keys($1)", [id]);
    return json({ user: presentUser(user), keys }, { headers: noStore });
  }

  const handle = handleErrors(async (req) => {
    const target = route(req);
    const actor = await resolveUser(req);
    if (actor.via === "session" && req.method !== "GET") assertAllowedOrigin(req, config.allowedRedirectOrigins);
    const held = await capabilitiesOf(actor.id);
    const meta = requestMeta(req, config.clientAddress);
    const need = (action: AdminAction) => assertCapabilities(held, requiredCapabilities(action));

    switch (target.action) {
      case "me":
        return json({ capabilities: held }, { headers: noStore });
      case "list_users":
        need({ kind: "list_users" });
        return await listUsers(req);
      case "get_user":
        need({ kind: "get_user" });
        return await getUser(target.id);
      case "audit": {
        need({ kind: "read_audit" });
        const page = await listAuditEvents(db, parseAuditQuery(new URL(req.url)));
        return json(page, { headers: noStore });
      }
      case "update_user": {
        const body = await readJson(req, updateBody);
        // What any target needs, early, so a caller without it learns nothing about the target. What this
        // target needs is decided by the SQL function, under its lock.
        need({ kind: "update_user", targetRole: "", role: body.role, capabilities: body.capabilities });
        const [user] = await db.query<AdminUserRow>("select * from keygate.admin_update_user($1, $2, $3, $4, $5, $6)", [
          actor.id,
          target.id,
          body.role ?? null,
          body.capabilities ?? null,
          meta.clientAddress,
          meta.userAgent,
        ]);
        return json({ user: presentUser(user) }, { headers: noStore });
      }
      case "set_active": {
        need({ kind: "set_active", targetRole: "" });
        const [user] = await db.query<AdminUserRow>("select * from keygate.admin_set_user_active($1, $2, $3, $4, $5)", [
          actor.id,
          target.id,
          target.active,
          meta.clientAddress,
          meta.userAgent,
        ]);
        return json({ user: presentUser(user) }, { headers: noStore });
      }
      case "revoke_key": {
        need({ kind: "revoke_key" });
        const rows = await db.query("select * from keygate.admin_revoke_key($1, $2, $3, $4)", [
          actor.id,
          target.id,
          meta.clientAddress,
          meta.userAgent,
        ]);
        if (rows.length === 0) throw notFound();
        return new Response(null, { status: 204 });
      }
    }
  }, log);

  return withCors(config.allowedRedirectOrigins, ALLOW, handle);
}
