/**
 * The signed-in user, as every handler sees them: the one type for it. A
 * session resolves to it without `via`; a handler that needs less takes a
 * `Pick` of it.
 */
export interface AuthenticatedUser {
  id: string;
  email: string;
  name: string | null;
  image_url: string | null;
  role: string;
  /** How the request proved it: the session cookie or a bearer token. */
  via: "session" | "bearer";
}
