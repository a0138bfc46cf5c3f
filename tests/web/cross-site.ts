/**
 * The dashboard on another site than the functions, in a real browser
 * (Debian's Chromium driven by playwright-core), defined once and run by
 * tests/web/dashboard.test.ts on its `npm start` stack, which serves the
 * dashboard with DASHBOARD_PORT on http://localhost:<p1> as well while the
 * functions stay on http://127.0.0.1:<p2>: two different sites to a browser,
 * as a static host and a hosted Supabase project are. Sign in through the
 * development provider (a single-use code in the fragment, exchanged for a
 * bearer session token), create, list, rotate and revoke keys, sign out, and
 * the session is over on the server too.
 */
import type { Browser, Locator, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import type { RunningStack } from "./start-stack.ts";

const KEY_PATTERN = /^kg_[0-9A-Za-z]{49}$/;

/** `running()` gives the started stack (with `dashboardUrl`) and browser, once beforeAll has run. */
export function defineCrossSiteTests(running: () => { stack: RunningStack; browser: Browser }) {
  describe("on another site than the functions", () => {
    function jobs(key: string): Promise<Response> {
      return fetch(`${running().stack.url}/functions/v1/jobs`, { headers: { "x-api-key": key } });
    }

    /** A revoked key is refused within the documented revocation delay (at most 10 s). */
    async function expectRefused(key: string): Promise<void> {
      await expect.poll(async () => (await jobs(key)).status, { timeout: 11_000, interval: 250 }).toBe(401);
    }

    /** Waits for `target`, failing at once with the page's own words when it shows an error instead. */
    async function waitForOrAlert(page: Page, target: Locator): Promise<void> {
      const shown = page
        .locator("#alert")
        .waitFor()
        .then(async () => {
          throw new Error(`the page showed an error instead: ${await page.locator("#alert-text").textContent()}`);
        });
      shown.catch(() => {});
      await Promise.race([target.waitFor(), shown]);
    }

    it("signs in with a code and a bearer token, manages keys, and signs out server-side", async () => {
      const { stack, browser } = running();
      const dashboard = stack.dashboardUrl!;
      const functions = `${stack.url}/functions/v1`;
      expect(new URL(dashboard).hostname).toBe("localhost");
      expect(new URL(functions).hostname).toBe("127.0.0.1");
      const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const requests: string[] = [];
      page.on("request", (req) => requests.push(req.url()));
      const codes: string[] = [];
      page.on("response", async (res) => {
        const location = res.url().startsWith(`${functions}/auth/callback/`) ? await res.headerValue("location") : null;
        const code = location ? new URLSearchParams(new URL(location).hash.slice(1)).get("code") : null;
        if (code) codes.push(code);
      });
      await page.goto(`${dashboard}/`);

      // The sign-in link goes to the functions' site with an S256 challenge and this page as redirect_to.
      const devSignIn = page.getByRole("link", { name: "Development sign-in (not for production)" });
      await devSignIn.waitFor({ state: "visible" });
      const href = new URL((await devSignIn.getAttribute("href"))!);
      expect(`${href.origin}${href.pathname}`).toBe(`${functions}/auth/login/oidc`);
      expect(href.searchParams.get("redirect_to")).toBe(`${dashboard}/`);
      expect(href.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(href.searchParams.get("code_challenge_method")).toBe("S256");

      await devSignIn.click();
      await page.getByText("DEVELOPMENT ONLY — not a real identity provider").waitFor();
      await page.getByLabel("Name").fill("Cleo Crosssite");
      await page.getByLabel("Email").fill("cleo.crosssite@example.com");
      await page.getByRole("button", { name: "Sign in as this person" }).click();

      await page.locator("#signed-in").waitFor();
      await expect(page.locator("#user-name").textContent()).resolves.toBe("Cleo Crosssite");
      // Back on the dashboard's own site, the code already gone from the address.
      const landed = new URL(page.url());
      expect(landed.origin).toBe(dashboard);
      expect(landed.hash).toBe("");
      // The code reached the dashboard only in a fragment: no request URL ever carried it
      // (the provider's own code goes to the functions' callback, as in any OAuth sign-in).
      expect(requests.filter((u) => /[?&]code=/.test(u) && !u.startsWith(`${functions}/auth/callback/`))).toEqual([]);

      // No session cookie anywhere: the session is a bearer token in this tab's sessionStorage.
      const cookies = await context.cookies();
      expect(cookies.filter((c) => /kg_session/.test(c.name))).toEqual([]);
      const stored = await page.evaluate(() => ({ ...sessionStorage }));
      expect(stored["keygate.session"]).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(stored["keygate.verifier"]).toBeUndefined();
      const token = stored["keygate.session"];
      // The callback sent exactly one code, to this page, in the fragment.
      expect(codes).toHaveLength(1);
      expect(codes[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const asBearer = await fetch(`${functions}/auth/session`, { headers: { authorization: `Bearer ${token}` } });
      expect((await asBearer.json()).email).toBe("cleo.crosssite@example.com");

      // Create a key.
      await waitForOrAlert(page, page.getByText("You have no API keys yet."));
      await page.getByLabel("Name").fill("cross-site job");
      await page.getByRole("checkbox", { name: /jobs:write/ }).check();
      await page.getByRole("button", { name: "Create API key" }).click();
      const newKey = page.getByTestId("new-key");
      await waitForOrAlert(page, newKey);
      const key = await newKey.inputValue();
      expect(key).toMatch(KEY_PATTERN);
      await expect(page.getByTestId("curl-list").textContent()).resolves.toBe(
        `curl -H "x-api-key: ${key}" ${functions}/jobs`,
      );
      expect((await jobs(key)).status).toBe(200);

      // List: it shows, and survives a reload (the token is kept for this tab).
      await page.reload();
      const row = page.locator("#keys-body tr", { hasText: "cross-site job" });
      await waitForOrAlert(page, row);
      await expect(row.getAttribute("data-status")).resolves.toBe("active");

      // Rotate with no grace: the old key stops, the new one works.
      await row.getByRole("button", { name: "Rotate: key cross-site job" }).click();
      const dialog = page.getByRole("dialog");
      await dialog.getByLabel("The old key keeps working for").selectOption("0");
      await dialog.getByRole("button", { name: "Rotate key" }).click();
      await waitForOrAlert(page, newKey);
      const rotated = await newKey.inputValue();
      expect(rotated).toMatch(KEY_PATTERN);
      expect(rotated).not.toBe(key);
      await expectRefused(key);
      expect((await jobs(rotated)).status).toBe(200);

      // Revoke the new key.
      await page
        .locator("#keys-body tr[data-status='active']")
        .getByRole("button", { name: "Revoke: key cross-site job" })
        .click();
      await dialog.getByRole("button", { name: "Revoke key" }).click();
      await expect.poll(() => page.locator("#keys-body tr[data-status='revoked']").count()).toBe(2);
      await expectRefused(rotated);

      // Sign out: the page forgets the token, and the server ended the session.
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.locator("#signed-out").waitFor();
      await page.getByRole("link", { name: "Development sign-in (not for production)" }).waitFor({ state: "visible" });
      expect(await page.evaluate(() => sessionStorage.getItem("keygate.session"))).toBeNull();
      const after = await fetch(`${functions}/auth/session`, { headers: { authorization: `Bearer ${token}` } });
      expect(after.status).toBe(401);
      const keysAfter = await fetch(`${functions}/api-keys`, { headers: { authorization: `Bearer ${token}` } });
      expect(keysAfter.status).toBe(401);

      // Nothing secret in what the stack printed.
      for (const secret of [token, codes[0], key, rotated]) expect(stack.output()).not.toContain(secret);
      await context.close();
    }, 120_000);

    it("refuses a code that comes back to a tab that did not start the sign-in", async () => {
      const { stack, browser } = running();
      const dashboard = stack.dashboardUrl!;
      const other = await browser.newContext();
      try {
        const page = await other.newPage();
        page.setDefaultTimeout(15_000);
        await page.goto(`${dashboard}/#code=${"A".repeat(43)}`);
        await page.getByRole("alert").getByText("That sign-in didn't match this browser.", { exact: false }).waitFor();
        expect(new URL(page.url()).hash).toBe("");
        await page.locator("#signed-out").waitFor();
      } finally {
        await other.close();
      }
    }, 60_000);
  });
}
