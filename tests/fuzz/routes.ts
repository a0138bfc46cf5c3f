/**
 * Every route the fuzz suite drives, in one table: a route added later is one
 * line here. Paths are below `/functions/v1`; `:name` is a path parameter,
 * filled with a real identifier of the signed-in user, a random one, or
 * garbage. Routes the contract names that the server does not serve yet are
 * listed too (`planned`): today they must answer a clean 404, later whatever
 * they answer is held to the same rules.
 */
export type RouteAuth = "none" | "session" | "key";

export interface RouteSpec {
  path: string;
  methods: readonly string[];
  /** What the route takes: nothing, a signed-in user (cookie or bearer), or an API key. */
  auth: RouteAuth;
  /** Body fields the route knows, so bodies carry them (with right and wrong types) often. */
  fields?: readonly string[];
  planned?: true;
}

export const ROUTES: readonly RouteSpec[] = [
  { path: "health", methods: ["GET"], auth: "none" },
  { path: "auth/providers", methods: ["GET"], auth: "none" },
  { path: "auth/login/:provider", methods: ["GET"], auth: "none" },
  { path: "auth/callback/:provider", methods: ["GET"], auth: "none" },
  { path: "auth/session", methods: ["GET"], auth: "session" },
  { path: "auth/logout", methods: ["POST"], auth: "session" },
  {
    path: "auth/token",
    methods: ["POST"],
    auth: "none",
    fields: ["code", "code_verifier", "grant_type"],
    planned: true,
  },
  { path: "api-keys", methods: ["GET", "POST"], auth: "session", fields: ["name", "scopes", "expires_in_days"] },
  { path: "api-keys/:key", methods: ["DELETE"], auth: "session" },
  { path: "api-keys/:key/rotate", methods: ["POST"], auth: "session", fields: ["grace_seconds"] },
  { path: "verify-key", methods: ["GET", "POST"], auth: "key" },
  {
    path: "jobs",
    methods: ["GET", "POST"],
    auth: "key",
    fields: ["type", "payload", "run_at", "max_attempts", "priority"],
  },
  { path: "jobs/:job", methods: ["GET"], auth: "key" },
  { path: "jobs/claim", methods: ["POST"], auth: "key", fields: ["types", "limit", "lease_seconds"], planned: true },
  { path: "jobs/:job/heartbeat", methods: ["POST"], auth: "key", fields: ["lease_seconds"], planned: true },
  { path: "jobs/:job/complete", methods: ["POST"], auth: "key", fields: ["result"], planned: true },
  { path: "jobs/:job/fail", methods: ["POST"], auth: "key", fields: ["error", "retry_in_seconds"], planned: true },
  { path: "jobs/:job/cancel", methods: ["POST"], auth: "key", planned: true },
  { path: "admin/users", methods: ["GET"], auth: "session", planned: true },
  {
    path: "admin/users/:user",
    methods: ["GET", "PATCH"],
    auth: "session",
    fields: ["role", "capabilities"],
    planned: true,
  },
  { path: "admin/users/:user/deactivate", methods: ["POST"], auth: "session", planned: true },
  { path: "admin/users/:user/reactivate", methods: ["POST"], auth: "session", planned: true },
  { path: "admin/keys/:key", methods: ["DELETE"], auth: "session", planned: true },
  { path: "admin/orgs", methods: ["GET"], auth: "session" },
  { path: "admin/orgs/:org/deactivate", methods: ["POST"], auth: "session" },
  { path: "admin/orgs/:org/reactivate", methods: ["POST"], auth: "session" },
  { path: "orgs", methods: ["GET", "POST"], auth: "session", fields: ["name", "slug"] },
  { path: "orgs/:org", methods: ["GET", "PATCH"], auth: "session", fields: ["name"] },
  { path: "orgs/:org/deactivate", methods: ["POST"], auth: "session" },
  { path: "orgs/:org/members", methods: ["GET"], auth: "session" },
  { path: "orgs/:org/members/:user", methods: ["PATCH", "DELETE"], auth: "session", fields: ["role"] },
  { path: "orgs/:org/leave", methods: ["POST"], auth: "session" },
  { path: "orgs/:org/transfer", methods: ["POST"], auth: "session", fields: ["user_id"] },
  {
    path: "orgs/:org/invitations",
    methods: ["GET", "POST"],
    auth: "session",
    fields: ["email", "role", "expires_in_days"],
  },
  { path: "orgs/:org/invitations/:invitation", methods: ["DELETE"], auth: "session" },
  { path: "orgs/:org/audit", methods: ["GET"], auth: "session" },
  { path: "orgs/invitations/accept", methods: ["POST"], auth: "session", fields: ["token"] },
];

/** The dashboard's static files, served at the site root. */
export const STATIC_PATHS: readonly string[] = ["/", "/index.html", "/app.js", "/api.js", "/style.css", "/favicon.svg"];

/** Query parameters the routes read, so queries carry them often. */
export const QUERY_NAMES: readonly string[] = [
  "redirect_to",
  "code",
  "state",
  "iss",
  "error",
  "limit",
  "cursor",
  "status",
  "type",
  "query",
];
