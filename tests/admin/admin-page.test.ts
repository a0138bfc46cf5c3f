/**
 * The admin page in a real browser (Debian's Chromium through playwright-core)
 * against the real Deno server: an admin finds a user, sees their key,
 * deactivates them, and that user's open dashboard and key stop working; the
 * audit log and the user's own activity say what happened.
 */
import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, until } from "../helpers/call.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { insertKey } from "../helpers/keys.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";
import { createSignedInUser, type SignedInUser } from "../helpers/session.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const required = process.env.KEYGATE_REQUIRE_ALL === "1";
if (!hasChromium && !required) {
  console.log(`skipping admin page browser test: Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
}

/** The revocation bound docs/security.md states: the verification cache's lifetime. */
const CACHE_BOUND_MS = 5000;

describe.skipIf(!hasChromium && !required)("admin page in a real browser", () => {
  let t: TestDatabase;
  let server: RunningServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    if (!hasChromium)
      throw new Error(`KEYGATE_REQUIRE_ALL=1 but Chromium is missing at ${CHROMIUM}: apt-get install chromium`);
    t = await createTestDatabase();
    [server, browser] = await Promise.all([
      startServer({ databaseUrl: t.url }),
      chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-sync",
          "--no-first-run",
        ],
      }),
    ]);
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await server?.stop();
    await t?.drop();
  });

  async function dashboardOf(user: SignedInUser): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    await context.addCookies([
      { name: "kg_session", value: user.token, url: server.url, httpOnly: true, sameSite: "Lax" },
    ]);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(`${server.url}/`);
    return page;
  }

  it("an admin finds a user and deactivates them; their session and key stop working", async () => {
    const admin = await createSignedInUser(t.admin, { role: "admin", email: "ops@example.test" });
    const victim = await createSignedInUser(t.admin, { role: "member", email: "mallory@example.test" });
    await t.admin.query("update public.users set name = 'Mallory' where id = $1", [victim.id]);
    const { key } = await insertKey(t.admin, victim.id, { name: "leaky job" });
    const verify = () => call(server.url, "verify-key", { headers: { "x-api-key": key } });
    expect((await verify()).status).toBe(200);

    // The user's own dashboard: signed in, their key listed, no admin page.
    const theirs = await dashboardOf(victim);
    await theirs.getByRole("heading", { name: "Your API keys" }).waitFor();
    await theirs.getByRole("row", { name: /leaky job/ }).waitFor();
    await theirs.getByRole("heading", { name: "Recent activity" }).waitFor();
    expect(await theirs.locator("#admin-section").isHidden()).toBe(true);

    // The admin finds them by name, opens them and sees the key.
    const ops = await dashboardOf(admin);
    await ops.getByRole("heading", { name: "Administration" }).waitFor();
    await ops.getByLabel("Find a user").fill("mallory");
    await ops.getByRole("button", { name: "Search" }).click();
    await ops.getByRole("button", { name: "Open mallory@example.test" }).click();
    const detail = ops.getByTestId("admin-user");
    await detail.getByRole("heading", { name: "mallory@example.test" }).waitFor();
    await detail.getByRole("row", { name: /leaky job/ }).waitFor();

    // Deactivates them (after confirming).
    ops.once("dialog", (dialog) => void dialog.accept());
    const at = Date.now();
    await detail.getByRole("button", { name: "Deactivate" }).click();
    await ops.getByRole("alert").filter({ hasText: "mallory@example.test deactivated." }).waitFor();
    await detail.getByRole("button", { name: "Reactivate" }).waitFor();

    // Their open dashboard is signed out on its next request, and their key stops within the bound.
    await theirs.reload();
    await theirs.getByRole("heading", { name: "Sign in to Keygate" }).waitFor();
    const refused = await until(verify, (r) => r.status === 401, CACHE_BOUND_MS + 1000);
    expect(refused.status).toBe(401);
    expect(Date.now() - at).toBeLessThanOrEqual(CACHE_BOUND_MS + 1000);

    // The audit log says who did it.
    await ops.getByLabel("Event").fill("user.deactivated");
    await ops.getByRole("button", { name: "Show events" }).click();
    const row = ops.getByTestId("admin-audit").getByRole("row", { name: /Account deactivated/ });
    await row.waitFor();
    expect(await row.textContent()).toContain("ops@example.test");
    expect(await row.textContent()).toContain("mallory@example.test");
  }, 60_000);

  it("lets an admin change a role and revoke a key from the page", async () => {
    const admin = await createSignedInUser(t.admin, { role: "admin", email: "lead@example.test" });
    const user = await createSignedInUser(t.admin, { role: "member", email: "casey@example.test" });
    const { key } = await insertKey(t.admin, user.id, { name: "nightly" });

    const page = await dashboardOf(admin);
    await page.getByLabel("Find a user").fill("casey@");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("button", { name: "Open casey@example.test" }).click();
    const detail = page.getByTestId("admin-user");
    await detail.getByLabel("Role", { exact: true }).selectOption("viewer");
    await detail.getByRole("checkbox", { name: /audit\.read/ }).check();
    await detail.getByRole("button", { name: "Save changes" }).click();
    await page.getByRole("alert").filter({ hasText: "Saved casey@example.test." }).waitFor();
    const { rows } = await t.admin.query(
      "select role, keygate.effective_capabilities(id) as caps from public.users where id = $1",
      [user.id],
    );
    expect(rows[0]).toEqual({ role: "viewer", caps: ["audit.read"] });

    await detail.getByRole("button", { name: "Revoke key nightly" }).click();
    await page.getByRole("alert").filter({ hasText: "Key revoked." }).waitFor();
    await detail.getByRole("row", { name: /nightly.*Revoked/ }).waitFor();
    const refused = await until(
      () => call(server.url, "verify-key", { headers: { "x-api-key": key } }),
      (r) => r.status === 401,
      CACHE_BOUND_MS + 1000,
    );
    expect(refused.status).toBe(401);

    // Their own activity lists what the admin did, by "an administrator", never by whom.
    const theirs = await dashboardOf(user);
    const activity = theirs.getByTestId("activity");
    const changed = activity.getByRole("row", { name: /Role changed from member to viewer/ });
    await changed.waitFor();
    const revoked = activity.getByRole("row", { name: /Revoked key “nightly”/ });
    await revoked.waitFor();
    for (const row of [changed, revoked]) {
      expect(await row.getByRole("cell").allTextContents()).toContain("An administrator");
    }
    expect(await activity.textContent()).not.toContain("lead@example.test");
  }, 60_000);

  it("lists organizations and lets an admin deactivate one, which its owner then sees", async () => {
    const admin = await createSignedInUser(t.admin, { role: "admin", email: "orgops@example.test" });
    const owner = await createSignedInUser(t.admin, { email: "founder@example.test" });
    const created = await call(server.url, "orgs", {
      method: "POST",
      json: { name: "Spammy Ltd", slug: "spammy" },
      headers: { cookie: owner.cookie, origin: server.url },
    });
    expect(created.status).toBe(201);

    const ops = await dashboardOf(admin);
    await ops.getByLabel("Find an organization").fill("spam");
    await ops.getByRole("button", { name: "Show organizations" }).click();
    const row = ops.getByTestId("admin-orgs").locator("tr[data-org=spammy]");
    await row.waitFor();
    expect(await row.textContent()).toContain("founder@example.test");
    await row.getByRole("button", { name: "Deactivate" }).click();
    await ops.getByRole("alert").filter({ hasText: "Spammy Ltd is deactivated." }).waitFor();
    await row.getByRole("button", { name: "Reactivate" }).waitFor();

    const theirs = await dashboardOf(owner);
    await theirs.locator("[data-org=spammy] summary").filter({ hasText: "deactivated" }).waitFor();
  }, 60_000);
});
