/**
 * `orgs`: organizations, their members and invitations, for a signed-in user
 * (docs/organizations.md). Every decision (who may do what, the last owner,
 * an invitation's validity) is made in SQL under a lock on the
 * organization's row, and recorded in the audit log in the same statement;
 * this handler only reads requests and shapes answers. Someone who is not a
 * member gets 404 for the organization and everything under it. An
 * invitation's token is in its 201 answer once, stored only as a hash.
 * Cookie-authenticated changes need an allowed Origin (CSRF).
 *
 *   POST   /orgs                                  create (you become its owner)
 *   GET    /orgs                                  the organizations you belong to
 *   GET    /orgs/:id                              one of them
 *   PATCH  /orgs/:id                              rename (owner, admin)
 *   POST   /orgs/:id/deactivate                   deactivate (owner)
 *   GET    /orgs/:id/members                      members (any member)
 *   PATCH  /orgs/:id/members/:user_id             change a role
 *   DELETE /orgs/:id/members/:user_id             remove a member
 *   POST   /orgs/:id/leave                        leave
 *   POST   /orgs/:id/transfer                     make another member owner (owner)
 *   POST   /orgs/:id/invitations                  invite an email address (owner, admin)
 *   GET    /orgs/:id/invitations                  pending invitations (owner, admin)
 *   DELETE /orgs/:id/invitations/:invitation_id   revoke one (owner, admin)
 *   GET    /orgs/:id/audit                        what happened in it (owner, admin)
 *   POST   /orgs/invitations/accept               accept, signed in with the invited address
 */
import { z } from "zod";
import { listOrgAuditEvents, parseAuditQuery } from "../../audit/list-events.ts";
import { requestMeta } from "../../audit/request-meta.ts";
import { signedInRoutes } from "../../auth/signed-in.ts";
import type { AuthenticatedUser } from "../../auth/user.ts";
import type { Config } from "../../config/config.ts";
import { base64url } from "../../core/base64url.ts";
import { sha256 } from "../../core/hash.ts";
import { type Logger, logError } from "../../core/log.ts";
import type { Db } from "../../db/db.ts";
import { browserCors } from "../../http/cors.ts";
import { json, readJson } from "../../http/response.ts";
import { createRouter, route } from "../../http/router.ts";

/** How long an invitation stays valid unless the request says otherwise. */
export const DEFAULT_INVITATION_DAYS = 7;

type RequestUser = Pick<AuthenticatedUser, "id" | "via">;

export interface OrgsHandlerDeps {
  config: Pick<Config, "allowedRedirectOrigins" | "clientAddress" | "publicUrl">;
  db: Db;
  /** `createUserResolver(...)` from auth/require-user.ts: throws 401 without a signed-in user. */
  resolveUser: (req: Request) => Promise<RequestUser>;
  /** Random bytes for invitation tokens (crypto.getRandomValues by default). */
  random?: (size: number) => Uint8Array;
  log?: Logger;
}

const name = z.string().trim().min(1).max(100);
const slug = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/, {
  message: "1-40 lowercase letters, digits or -, not at either end",
});
const role = z.enum(["owner", "admin", "member"]);

const createBody = z.strictObject({ name, slug: slug.optional() });
const renameBody = z.strictObject({ name });
const roleBody = z.strictObject({ role });
const transferBody = z.strictObject({ user_id: z.uuid() });
const inviteBody = z.strictObject({
  email: z.email().max(320),
  role: z.enum(["admin", "member"]).optional(),
  expires_in_days: z.int().min(1).max(30).optional(),
});
const acceptBody = z.strictObject({
  token: z.string().regex(/^[A-Za-z0-9_-]{43}$/, { message: "not an invitation token" }),
});

/** A slug from a name: lowercase ASCII letters and digits, runs of anything else as one `-`. */
export function slugFrom(text: string): string {
  const base = text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/, "");
  return base || "org";
}

const NO_STORE = { "cache-control": "no-store" };

export function createOrgsHandler({
  config,
  db,
  resolveUser,
  random = (size) => crypto.getRandomValues(new Uint8Array(size)),
  log = logError,
}: OrgsHandlerDeps): (req: Request) => Promise<Response> {
  const signedIn = signedInRoutes(resolveUser, config.allowedRedirectOrigins);
  const routes = [
    route("POST", "/orgs", signedIn(create)),
    route("GET", "/orgs", signedIn(list)),
    route("POST", "/orgs/invitations/accept", signedIn(accept)),
    route("GET", "/orgs/:id(uuid)", signedIn(get)),
    route("PATCH", "/orgs/:id(uuid)", signedIn(rename)),
    route("POST", "/orgs/:id(uuid)/deactivate", signedIn(deactivate)),
    route("GET", "/orgs/:id(uuid)/members", signedIn(members)),
    route("PATCH", "/orgs/:id(uuid)/members/:user_id(uuid)", signedIn(changeRole)),
    route("DELETE", "/orgs/:id(uuid)/members/:user_id(uuid)", signedIn(remove)),
    route("POST", "/orgs/:id(uuid)/leave", signedIn(leave)),
    route("POST", "/orgs/:id(uuid)/transfer", signedIn(transfer)),
    route("POST", "/orgs/:id(uuid)/invitations", signedIn(invite)),
    route("GET", "/orgs/:id(uuid)/invitations", signedIn(invitations)),
    route("DELETE", "/orgs/:id(uuid)/invitations/:invitation_id(uuid)", signedIn(revokeInvitation)),
    route("GET", "/orgs/:id(uuid)/audit", signedIn(audit)),
  ];

  /** The last two arguments of every changing SQL function: who asked, for the audit event. */
  function metaOf(req: Request): [string | null, string | null] {
    const meta = requestMeta(req, config.clientAddress);
    return [meta.clientAddress, meta.userAgent];
  }

  async function create(req: Request, user: RequestUser): Promise<Response> {
    const body = await readJson(req, createBody);
    const [org] = await db.query("select id, slug, name, role from keygate.create_organization($1, $2, $3, $4, $5)", [
      user.id,
      body.name,
      body.slug ?? slugFrom(body.name),
      ...metaOf(req),
    ]);
    return json(org, { status: 201 });
  }

  async function list(_req: Request, user: RequestUser): Promise<Response> {
    const orgs = await db.query("select id, slug, name, role, deactivated_at from keygate.list_organizations($1)", [
      user.id,
    ]);
    return json({ orgs }, { headers: NO_STORE });
  }

  async function get(_req: Request, user: RequestUser, { id }: { id: string }): Promise<Response> {
    const [org] = await db.query(
      "select id, slug, name, role, created_at, deactivated_at from keygate.get_organization($1, $2)",
      [user.id, id],
    );
    return json(org, { headers: NO_STORE });
  }

  async function rename(req: Request, user: RequestUser, { id }: { id: string }): Promise<Response> {
    const body = await readJson(req, renameBody);
    await db.query("select keygate.rename_organization($1, $2, $3, $4, $5)", [user.id, id, body.name, ...metaOf(req)]);
    return await get(req, user, { id });
  }

  async function deactivate(req: Request, user: RequestUser, { id }: { id: string }): Promise<Response> {
    await db.query("select keygate.deactivate_organization($1, $2, $3, $4)", [user.id, id, ...metaOf(req)]);
    return await get(req, user, { id });
  }

  async function members(_req: Request, user: RequestUser, { id }: { id: string }): Promise<Response> {
    const rows = await db.query("select user_id, email, name, role, created_at from keygate.list_members($1, $2)", [
      user.id,
      id,
    ]);
    return json({ members: rows }, { headers: NO_STORE });
  }

  async function changeRole(
    req: Request,
    user: RequestUser,
    params: { id: string; user_id: string },
  ): Promise<Response> {
    const body = await readJson(req, roleBody);
    await db.query("select keygate.change_member_role($1, $2, $3, $4, $5, $6)", [
      user.id,
      params.id,
      params.user_id,
      body.role,
      ...metaOf(req),
    ]);
    return json({ user_id: params.user_id, role: body.role });
  }

  async function remove(req: Request, user: RequestUser, params: { id: string; user_id: string }): Promise<Response> {
    await db.query("select keygate.remove_member($1, $2, $3, $4, $5)", [
      user.id,
      params.id,
      params.user_id,
      ...metaOf(req),
    ]);
    return new Response(null, { status: 204 });
  }

  async function leave(req: Request, user: RequestUser, { id }: { id: string }): Promise<Response> {
    await db.query("select keygate.remove_member($1, $2, $1, $3, $4)", [user.id, id, ...metaOf(req)]);
    return new Response(null, { status: 204 });
  }

  async function transfer(req: Request, user: RequestUser, { id }: { id: string }): Promise<Response> {
    const body = await readJson(req, transferBody);
    await db.query("select keygate.transfer_ownership($1, $2, $3, $4, $5)", [
      user.id,
      id,
      body.user_id,
      ...metaOf(req),
    ]);
    return json({ owner: body.user_id, your_role: "admin" });
  }

  async function invite(req: Request, user: RequestUser, { id }: { id: string }): Promise<Response> {
    const body = await readJson(req, inviteBody);
    const token = base64url(random(32));
    const days = body.expires_in_days ?? DEFAULT_INVITATION_DAYS;
    const [row] = await db.query<{ id: string; expires_at: string }>(
      "select id, expires_at from keygate.create_invitation($1, $2, $3, $4, $5, $6, $7, $8)",
      [user.id, id, body.email.toLowerCase(), body.role ?? "member", sha256(token), days * 86_400, ...metaOf(req)],
    );
    // In the fragment, so the token never reaches a server log or a Referer.
    const dashboard = config.allowedRedirectOrigins[0] ?? new URL(config.publicUrl).origin;
    return json(
      { id: row.id, token, url: `${dashboard}/#invitation=${token}`, expires_at: row.expires_at },
      { status: 201, headers: NO_STORE },
    );
  }

  async function invitations(_req: Request, user: RequestUser, { id }: { id: string }): Promise<Response> {
    const rows = await db.query(
      "select id, email, role, invited_by, created_at, expires_at from keygate.list_invitations($1, $2)",
      [user.id, id],
    );
    return json({ invitations: rows }, { headers: NO_STORE });
  }

  async function revokeInvitation(
    req: Request,
    user: RequestUser,
    params: { id: string; invitation_id: string },
  ): Promise<Response> {
    await db.query("select keygate.revoke_invitation($1, $2, $3, $4, $5)", [
      user.id,
      params.id,
      params.invitation_id,
      ...metaOf(req),
    ]);
    return new Response(null, { status: 204 });
  }

  async function audit(req: Request, user: RequestUser, { id }: { id: string }): Promise<Response> {
    const query = parseAuditQuery(new URL(req.url), { own: true });
    return json(await listOrgAuditEvents(db, user.id, id, query), { headers: NO_STORE });
  }

  async function accept(req: Request, user: RequestUser): Promise<Response> {
    const body = await readJson(req, acceptBody);
    const [row] = await db.query("select org_id, role from keygate.accept_invitation($1, $2, $3, $4)", [
      user.id,
      sha256(body.token),
      ...metaOf(req),
    ]);
    return json(row);
  }

  return createRouter(routes, { cors: browserCors(config.allowedRedirectOrigins), log });
}
