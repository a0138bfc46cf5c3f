/** People and organizations for the organization suites, made through the real routes. */
import { expect } from "vitest";
import type { CallInit } from "../helpers/call.ts";
import { asUser, createSignedInUser, type SignedInUser } from "../helpers/session.ts";
import type { Stack } from "../helpers/stack.ts";

let counter = 0;

export function orgPeople(stack: Stack) {
  /** A signed-in user with the Keygate-wide `role`. */
  const person = (role = "member") =>
    createSignedInUser(stack.admin, { role, email: `org-${Date.now()}-${counter++}@example.test` });

  /** A call as `user`, with their session. */
  const as = (user: SignedInUser, path: string, init: CallInit = {}) => stack.call(path, asUser(user, stack.url, init));

  /** A new organization owned by `owner`: its id. */
  async function orgOf(owner: SignedInUser, name = "Acme"): Promise<string> {
    const res = await as(owner, "orgs", { method: "POST", json: { name, slug: `acme-${counter++}-${Date.now()}` } });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  /** Adds `user` to `orgId` with `role` by invitation, as the product does. */
  async function join(owner: SignedInUser, orgId: string, user: SignedInUser, role: string): Promise<void> {
    const invited = await as(owner, `orgs/${orgId}/invitations`, {
      method: "POST",
      json: { email: user.email, role: role === "owner" ? "admin" : role },
    });
    expect(invited.status).toBe(201);
    expect(
      (await as(user, "orgs/invitations/accept", { method: "POST", json: { token: invited.body.token } })).status,
    ).toBe(200);
    if (role === "owner") {
      const made = await as(owner, `orgs/${orgId}/members/${user.id}`, { method: "PATCH", json: { role: "owner" } });
      expect(made.status).toBe(200);
    }
  }

  return { person, as, orgOf, join };
}
