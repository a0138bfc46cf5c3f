/** Shared arrangements for the admin suites: users with roles and capabilities, cookie requests. */
import type pg from "pg";
import { createSignedInUser, type SignedInUser } from "../helpers/session.ts";

export async function signedInWith(
  admin: pg.Pool,
  {
    role = "member",
    capabilities = [] as string[],
    email,
  }: { role?: string; capabilities?: string[]; email?: string } = {},
): Promise<SignedInUser> {
  const user = await createSignedInUser(admin, { role, email });
  for (const capability of capabilities) {
    await admin.query("insert into public.user_capabilities (user_id, capability) values ($1, $2)", [
      user.id,
      capability,
    ]);
  }
  return user;
}

/** A cookie-authenticated request from the dashboard's own origin. */
export function asUser(user: SignedInUser, origin: string, init: RequestInit & { json?: unknown } = {}) {
  return { ...init, headers: { cookie: user.cookie, origin, ...(init.headers as Record<string, string>) } };
}

/** Polls `probe` until `done`, for at most `limitMs`; the last value. */
export async function within<T>(limitMs: number, probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
