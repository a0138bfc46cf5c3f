/**
 * A route that needs a signed-in user: resolves the user (401 without one)
 * and, for a change made with the session cookie (not GET), requires an
 * allowed Origin (CSRF; a bearer token cannot be sent by another site).
 * Shared by the handlers that serve the dashboard (api-keys, orgs).
 */
import { assertAllowedOrigin } from "../http/csrf.ts";
import type { AuthenticatedUser } from "./user.ts";

export type SignedInUser = Pick<AuthenticatedUser, "id" | "via">;

export function signedInRoutes<U extends SignedInUser>(
  resolveUser: (req: Request) => Promise<U>,
  allowedOrigins: readonly string[],
) {
  return <P>(fn: (req: Request, user: U, params: P) => Promise<Response>) =>
    async (req: Request, params: P): Promise<Response> => {
      const user = await resolveUser(req);
      if (user.via === "session" && req.method !== "GET") assertAllowedOrigin(req, allowedOrigins);
      return await fn(req, user, params);
    };
}
