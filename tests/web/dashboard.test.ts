/**
 * The newcomer's path in a real browser (Debian's Chromium driven by
 * playwright-core) against the real `npm start` stack on a fresh embedded
 * database: sign in through the development provider, create a key, use it
 * from here with fetch, rotate and revoke it in the page, sign out. Then the
 * same at phone width with the keyboard only. The same stack also serves the
 * dashboard on a second origin (DASHBOARD_PORT), where tests/web/cross-site.ts
 * runs the cross-site sign-in on it.
 */
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/server.ts";
import { defineCrossSiteTests } from "./cross-site.ts";
import { type RunningStack, startStack } from "./start-stack.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const required = process.env.KEYGATE_REQUIRE_ALL === "1";
if (!hasChromium && !required) {
  console.log(`skipping browser tests: Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
}

const KEY_PATTERN = /^kg_[0-9A-Za-z]{49}$/;
// The README's picture. Refreshed only on request (UPDATE_SCREENSHOT=1), so a
// test run leaves the work tree clean; otherwise it goes to the temp folder.
const SCREENSHOT =
  process.env.UPDATE_SCREENSHOT === "1"
    ? path.join(projectRoot, "docs", "screenshot.png")
    : path.join(os.tmpdir(), `keygate-dashboard-${process.pid}.png`);

describe.skipIf(!hasChromium && !required)("dashboard in a real browser", () => {
  let stack: RunningStack | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    if (!hasChromium) {
      throw new Error(`KEYGATE_REQUIRE_ALL=1 but Chromium is missing at ${CHROMIUM}: apt-get install chromium`);
    }
    // playwright-core gives the browser a new, empty profile in a temporary directory.
    const [started, launched] = await Promise.allSettled([
      startStack({ dashboardOnAnotherSite: true }),
      chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
        ],
      }),
    ]);
    if (started.status === "fulfilled") stack = started.value;
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "rejected") throw started.reason;
    if (launched.status === "rejected") throw launched.reason;
  }, 150_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await stack?.stop();
  });

  async function newPage(options: Parameters<Browser["newContext"]>[0]): Promise<Page> {
    const context = await browser!.newContext(options);
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return page;
  }

  function jobs(key: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${stack!.url}/functions/v1/jobs`, { ...init, headers: { "x-api-key": key, ...init.headers } });
  }

  function verifyKey(key: string): Promise<Response> {
    return fetch(`${stack!.url}/functions/v1/verify-key`, { headers: { "x-api-key": key } });
  }

  async function submitJob(key: string): Promise<Response> {
    return await jobs(key, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "browser-test", payload: { step: 1 } }),
    });
  }

  /**
   * A revoked key is refused within the documented revocation delay (the
   * verification cache, API_KEY_CACHE_TTL_MS, at most 10 s).
   */
  async function expectRefused(key: string): Promise<void> {
    await expect.poll(async () => (await jobs(key)).status, { timeout: 11_000, interval: 250 }).toBe(401);
  }

  async function noHorizontalOverflow(page: Page): Promise<void> {
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
    }));
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
  }

  /**
   * Waits for `target`, failing at once with the page's own words when it
   * shows an error instead (e.g. "Something went wrong on the server").
   */
  async function waitForOrAlert(page: Page, target: Locator): Promise<void> {
    const alert = page.locator("#alert");
    const shown = alert.waitFor().then(async () => {
      throw new Error(`the page showed an error instead: ${await page.locator("#alert-text").textContent()}`);
    });
    shown.catch(() => {});
    await Promise.race([target.waitFor(), shown]);
  }

  /** Presses Tab until `target` has the focus (a keyboard user's way there). */
  async function tabTo(page: Page, target: Locator, maxPresses = 40): Promise<void> {
    for (let i = 0; i < maxPresses; i++) {
      await page.keyboard.press("Tab");
      if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) return;
    }
    throw new Error(`could not reach ${target} with Tab`);
  }

  it("signs in, creates a key, uses it, rotates and revokes it, and signs out", async () => {
    const page = await newPage({ viewport: { width: 1200, height: 800 } });
    await page.goto(`${stack!.url}/`);

    // Signed out: the development provider is offered, and says what it is.
    const devSignIn = page.getByRole("link", { name: "Development sign-in (not for production)" });
    // The providers are fetched after load: wait for the link, do not just look once.
    await devSignIn.waitFor({ state: "visible" });
    await devSignIn.click();
    await page.getByText("DEVELOPMENT ONLY — not a real identity provider").waitFor();

    // Type an identity at the development provider.
    await page.getByLabel("Name").fill("Dana Tester");
    await page.getByLabel("Email").fill("dana.tester@example.com");
    await page.getByRole("button", { name: "Sign in as this person" }).click();

    await page.locator("#signed-in").waitFor();
    expect(new URL(page.url()).origin).toBe(stack!.url);
    await expect(page.locator("#user-name").textContent()).resolves.toBe("Dana Tester");
    await expect(page.locator("#user-email").textContent()).resolves.toBe("dana.tester@example.com");
    await waitForOrAlert(page, page.getByText("You have no API keys yet."));

    // Create a key with both scopes, expiring in 30 days.
    await page.getByLabel("Name").fill("nightly report");
    await expect(page.getByRole("checkbox", { name: /jobs:read/ }).isChecked()).resolves.toBe(true);
    await page.getByRole("checkbox", { name: /jobs:write/ }).check();
    await page.getByLabel("Expires").selectOption("30");
    await page.getByRole("button", { name: "Create API key" }).click();

    const newKey = page.getByTestId("new-key");
    await waitForOrAlert(page, newKey);
    const key = await newKey.inputValue();
    expect(key).toMatch(KEY_PATTERN);
    await page.getByText("This is the only time the key is shown").waitFor();
    await expect(page.getByTestId("curl-list").textContent()).resolves.toBe(
      `curl -H "x-api-key: ${key}" ${stack!.url}/functions/v1/jobs`,
    );
    const row = page.locator("#keys-body tr", { hasText: "nightly report" });
    await expect(row.getAttribute("data-status")).resolves.toBe("active");
    await expect(row.textContent()).resolves.toContain(key.slice(0, 6));
    // The key lives in the page only, never in storage.
    const stored = await page.evaluate(
      () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
    );
    expect(stored).not.toContain(key.slice(3));

    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Use it from here, as a backend job would.
    const created = await submitJob(key);
    expect(created.status).toBe(202);
    const { id: jobId } = await created.json();
    const listed = await jobs(key);
    expect(listed.status).toBe(200);
    expect((await listed.json()).jobs.map((j: { id: string }) => j.id)).toContain(jobId);

    // After a reload the key is gone from the page for good; its use shows
    // (last_used_at is written off the response path, so allow it a moment).
    await expect
      .poll(
        async () => {
          await page.reload();
          await row.waitFor();
          return await row.locator("[data-label='Last used']").textContent();
        },
        { timeout: 10_000, interval: 500 },
      )
      .not.toBe("Never");
    expect(await page.content()).not.toContain(key);
    await expect(newKey.isVisible()).resolves.toBe(false);

    // Rotate with a grace period: both keys work until the old one is revoked.
    await page.getByRole("button", { name: "Rotate: key nightly report" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    await dialog.getByLabel("The old key keeps working for").selectOption("3600");
    await dialog.getByRole("button", { name: "Rotate key" }).click();
    await newKey.waitFor();
    const rotated = await newKey.inputValue();
    expect(rotated).toMatch(KEY_PATTERN);
    expect(rotated).not.toBe(key);
    await page.locator("#keys-body tr[data-status='rotating']").waitFor();
    await expect(page.locator("#keys-body tr[data-status='rotating']").textContent()).resolves.toContain(
      "Rotating: works until",
    );
    expect((await jobs(key)).status).toBe(200);
    expect((await jobs(rotated)).status).toBe(200);

    // Revoke the old key now; cancelling first changes nothing.
    const revokeOld = page
      .locator("#keys-body tr[data-status='rotating']")
      .getByRole("button", { name: "Revoke now: key nightly report" });
    await revokeOld.click();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect((await jobs(key)).status).toBe(200);
    await revokeOld.click();
    await dialog.getByRole("button", { name: "Revoke key" }).click();
    await page.locator("#keys-body tr[data-status='revoked']").waitFor();
    await expectRefused(key);
    expect((await jobs(rotated)).status).toBe(200);

    // Revoke the new one too, from its row.
    await page
      .locator("#keys-body tr[data-status='active']")
      .getByRole("button", { name: "Revoke: key nightly report" })
      .click();
    await dialog.getByRole("button", { name: "Revoke key" }).click();
    await expect.poll(() => page.locator("#keys-body tr[data-status='revoked']").count()).toBe(2);
    await expectRefused(rotated);

    // Sign out: the page says so, and the session is over on the server too.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("#signed-out").waitFor();
    // The providers are fetched after load: wait for the link, do not just look once.
    await devSignIn.waitFor({ state: "visible" });
    expect(await page.content()).not.toContain(rotated);
    const session = await page.evaluate(async () => (await fetch("/functions/v1/auth/session")).status);
    expect(session).toBe(401);
  }, 120_000);

  /** Signs in at the development provider as `name` <`email`>, from `path`. */
  async function signInAs(page: Page, name: string, email: string, path = "/"): Promise<void> {
    await page.goto(`${stack!.url}${path}`);
    const devSignIn = page.getByRole("link", { name: "Development sign-in (not for production)" });
    await devSignIn.waitFor({ state: "visible" });
    await devSignIn.click();
    await page.getByLabel("Name").fill(name);
    await page.getByLabel("Email").fill(email);
    await page.getByRole("button", { name: "Sign in as this person" }).click();
    await page.locator("#signed-in").waitFor();
  }

  it("creates an organization and invites a colleague, who joins from the link after signing in", async () => {
    const owner = await newPage({ viewport: { width: 1200, height: 800 } });
    await signInAs(owner, "Olga Owner", "olga.owner@example.com");
    await waitForOrAlert(owner, owner.getByText("You belong to no organization yet."));
    await owner.getByLabel("New organization").fill("Acme Rockets");
    await owner.getByRole("button", { name: "Create organization" }).click();
    const org = owner.locator("[data-org=acme-rockets]");
    await org.waitFor();
    await expect(org.locator("summary").textContent()).resolves.toBe("Acme Rockets (acme-rockets): owner");
    await org.locator("summary").click();
    await org.getByLabel("Invite by email").fill("Colin.Colleague@example.com");
    await org.getByRole("button", { name: "Invite" }).click();
    const link = org.getByTestId("invitation-link");
    await link.waitFor();
    const url = /(http\S+#invitation=[A-Za-z0-9_-]{43})/.exec((await link.textContent()) ?? "")?.[1];
    expect(url).toBeDefined();
    await org.locator("[data-invitation='colin.colleague@example.com']").waitFor();

    // The colleague opens the link signed out, signs in on the way, and is a member.
    const colleague = await newPage({ viewport: { width: 1200, height: 800 } });
    await colleague.goto(url!);
    expect(new URL(colleague.url()).hash).toBe("");
    await signInAs(colleague, "Colin Colleague", "colin.colleague@example.com", "/");
    await waitForOrAlert(colleague, colleague.getByText("You joined an organization as member."));
    await expect(colleague.locator("[data-org=acme-rockets] summary").textContent()).resolves.toBe(
      "Acme Rockets (acme-rockets): member",
    );

    // The owner sees the new member and no pending invitation.
    await owner.reload();
    await owner.locator("[data-org=acme-rockets] summary").click();
    await owner.locator("[data-member='colin.colleague@example.com']").waitFor();
    await expect(owner.locator("[data-org=acme-rockets] [data-invitation]").count()).resolves.toBe(0);
    const audit = owner.locator("[data-org=acme-rockets] [data-testid=org-audit]");
    await audit.locator("tr[data-action='org.invitation_accepted']").waitFor();
    await expect(audit.locator("tr[data-action='org.invitation_accepted']").textContent()).resolves.toContain(
      "colin.colleague@example.com",
    );

    // The colleague makes a key for the organization; a backend uses it.
    await colleague.reload();
    await colleague.locator("#key-owner-field").waitFor();
    await colleague.getByLabel("Owner").selectOption({ label: "Acme Rockets" });
    await colleague.locator("#keys-empty").waitFor();
    await colleague.getByLabel("Name", { exact: true }).fill("acme backend");
    await colleague.getByRole("button", { name: "Create API key" }).click();
    await colleague.locator("#new-key").waitFor();
    const orgKey = await colleague.locator("#new-key-value").inputValue();
    await expect(colleague.locator("#keys-title").textContent()).resolves.toBe("Acme Rockets: API keys");
    const verified = await verifyKey(orgKey);
    expect(verified.status).toBe(200);
    const principal = await verified.json();
    expect(principal.owner.type).toBe("organization");
    expect(principal).not.toHaveProperty("user_id");
    // Not among the colleague's personal keys.
    await colleague.getByLabel("Owner").selectOption({ label: "Personal" });
    await colleague.locator("#keys-empty").waitFor();

    // The colleague leaves; the organization's key keeps working.
    await colleague.locator("[data-org=acme-rockets] summary").click();
    await colleague.getByRole("button", { name: "Leave Acme Rockets" }).click();
    await colleague.locator("[data-org=acme-rockets]").waitFor({ state: "detached" });
    expect((await verifyKey(orgKey)).status).toBe(200);

    // The owner finds it as a former member's key and revokes it.
    await owner.reload();
    await owner.getByLabel("Owner").selectOption({ label: "Acme Rockets" });
    const row = owner.locator("#keys-body tr[data-status='active']");
    await row.getByText("made by a former member").waitFor();
    await row.getByRole("button", { name: "Revoke: key acme backend" }).click();
    await owner.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
    await owner.locator("#keys-body tr[data-status='revoked']").waitFor();
    await expect.poll(async () => (await verifyKey(orgKey)).status, { timeout: 11_000, interval: 250 }).toBe(401);
  }, 120_000);

  it("explains a failed sign-in in words and cleans the address", async () => {
    const page = await newPage({ viewport: { width: 1000, height: 700 } });
    await page.goto(`${stack!.url}/?error=login_expired`);
    await page.getByRole("alert").getByText("That sign-in link expired, please try again.").waitFor();
    expect(new URL(page.url()).search).toBe("");
  }, 60_000);

  it("works at phone width with the keyboard only", async () => {
    const page = await newPage({ viewport: { width: 375, height: 740 } });
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: stack!.url });
    await page.goto(`${stack!.url}/`);
    await page.locator("#signed-out").waitFor();
    await noHorizontalOverflow(page);

    await tabTo(page, page.getByRole("link", { name: "Development sign-in (not for production)" }));
    await page.keyboard.press("Enter");
    await page.getByText("DEVELOPMENT ONLY — not a real identity provider").waitFor();
    await noHorizontalOverflow(page);
    await tabTo(page, page.getByRole("button", { name: /Sign in as Alan Turing/ }));
    await page.keyboard.press("Enter");

    await page.locator("#signed-in").waitFor();
    await expect(page.locator("#user-name").textContent()).resolves.toBe("Alan Turing");
    await noHorizontalOverflow(page);

    await tabTo(page, page.getByLabel("Name"));
    await page.keyboard.type("phone key");
    await tabTo(page, page.getByRole("checkbox", { name: /jobs:write/ }));
    await page.keyboard.press("Space");
    await expect(page.getByRole("checkbox", { name: /jobs:write/ }).isChecked()).resolves.toBe(true);
    const create = page.getByRole("button", { name: "Create API key" });
    await tabTo(page, create);
    // The focus is visible.
    expect(await create.evaluate((el) => getComputedStyle(el).outlineStyle)).not.toBe("none");
    await page.keyboard.press("Enter");

    const newKey = page.getByTestId("new-key");
    await waitForOrAlert(page, newKey);
    const key = await newKey.inputValue();
    expect(key).toMatch(KEY_PATTERN);
    // Focus moved to the new key's heading, so a keyboard user lands on it.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("new-key-title");
    await noHorizontalOverflow(page);

    await tabTo(page, page.getByRole("button", { name: "Copy key" }));
    await page.keyboard.press("Enter");
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(key);

    await page.locator("#keys-body tr", { hasText: "phone key" }).waitFor();
    await noHorizontalOverflow(page);
    expect((await jobs(key)).status).toBe(200);

    await tabTo(page, page.getByRole("button", { name: "I've saved it, hide the key" }));
    await page.keyboard.press("Enter");
    await expect(newKey.isVisible()).resolves.toBe(false);
    expect(await page.content()).not.toContain(key);
  }, 120_000);

  defineCrossSiteTests(() => ({ stack: stack!, browser: browser! }));
});
