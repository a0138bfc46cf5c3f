/**
 * Who new users are, from the environment:
 *
 * | variable       | default  | meaning                                                              |
 * | -------------- | -------- | -------------------------------------------------------------------- |
 * | `DEFAULT_ROLE` | `viewer` | the role of a user created by a sign-in: `viewer` or `member`        |
 * | `ADMIN_EMAILS` | none     | comma-separated addresses that become admin on their first verified sign-in |
 *
 * Both apply once, on the sign-in that creates the user (keygate.record_sign_in).
 * `npm start` with the development sign-in sets DEFAULT_ROLE=member.
 */
import type { Env } from "../config.ts";

export interface RoleSettings {
  defaultRole: "viewer" | "member";
  adminEmails: string[];
}

export function loadRoleSettings(env: Env): RoleSettings {
  const role = env.DEFAULT_ROLE?.trim() || "viewer";
  if (role !== "viewer" && role !== "member") {
    throw new Error("DEFAULT_ROLE must be viewer or member (make admins with npm run admin or ADMIN_EMAILS)");
  }
  const adminEmails = (env.ADMIN_EMAILS ?? "")
    .split(",")
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
  for (const email of adminEmails) {
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new Error(`ADMIN_EMAILS: ${email} is not an email address`);
  }
  return { defaultRole: role, adminEmails };
}
