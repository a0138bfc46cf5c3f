/**
 * GET /jobs/summary (the dashboard's Jobs view, for a signed-in user) through
 * the real server, and the view itself in a real browser (Chromium), signed
 * in with a real session.
 */
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "../helpers/call.ts";
import { type KeyHolder, userWithKey } from "../helpers/keys.ts";
import { createSession } from "../helpers/session.ts";
import { useStack } from "../helpers/stack.ts";
import { jobsClient, post } from "./helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const required = process.env.KEYGATE_REQUIRE_ALL === "1";
if (!hasChromium && !required)
  console.log(`skipping the Jobs view browser test: Chromium not found at ${CHROMIUM} (apt-get install chromium)`);

let jobs: ReturnType<typeof jobsClient>;

const stack = useStack();
beforeAll(async () => {
  jobs = jobsClient(stack.url);
});

/** A user with a key and jobs in several states: 2 queued, 1 running with progress, 1 failed, 1 succeeded. */
async function userWithJobs(): Promise<KeyHolder & { cookie: string; ids: Record<string, string> }> {
  const owner = await userWithKey(stack.admin);
  const submit = async (type: string, extra = {}) =>
    (await jobs("jobs", owner.key, post({ type, ...extra }))).body.id as string;
  const ids = {
    done: await submit("report.done"),
    failed: await submit("report.failed", { max_attempts: 1 }),
    running: await submit("report.running"),
    queued1: await submit("report.queued"),
    queued2: await submit("report.queued", { run_at: new Date(Date.now() + 3_600_000).toISOString() }),
  };
  for (const type of ["report.done", "report.failed", "report.running"])
    await jobs("jobs/claim", owner.key, post({ types: [type] }));
  await jobs(`jobs/${ids.done}/complete`, owner.key, post({ result: { ok: 1 } }));
  await jobs(`jobs/${ids.failed}/fail`, owner.key, post({ error: "<b>no such month</b>" }));
  await jobs(`jobs/${ids.running}/heartbeat`, owner.key, post({ progress: { done: 3, total: 10 } }));
  const token = await createSession(stack.admin, owner.userId);
  return { ...owner, cookie: `kg_session=${token}`, ids };
}

describe("GET /jobs/summary", () => {
  it("counts the signed-in user's jobs by status and lists the latest, without payloads or results", async () => {
    const user = await userWithJobs();
    await userWithJobs(); // someone else's, not counted
    const res = await call(stack.url, "jobs/summary", { headers: { cookie: user.cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body.counts).toEqual({ queued: 2, running: 1, succeeded: 1, failed: 1, canceled: 0 });
    expect(res.body.jobs.map((j: { id: string }) => j.id)).toEqual([
      user.ids.queued2,
      user.ids.queued1,
      user.ids.running,
      user.ids.failed,
      user.ids.done,
    ]);
    expect(res.body.jobs[2]).toMatchObject({ status: "running", progress: { done: 3, total: 10 }, attempts: 1 });
    expect(res.body.jobs[3]).toMatchObject({ status: "failed", error: "<b>no such month</b>" });
    for (const job of res.body.jobs) expect(Object.keys(job)).not.toContain("payload");
  });

  it("takes a session, not an API key: 401 without one or with a key", async () => {
    const user = await userWithJobs();
    const none = await call(stack.url, "jobs/summary");
    expect([none.status, none.body.error.code]).toEqual([401, "unauthorized"]);
    const withKey = await call(stack.url, "jobs/summary", {
      headers: { "x-api-key": user.key, authorization: `Bearer ${user.key}` },
    });
    expect([withKey.status, withKey.body.error.code]).toEqual([401, "unauthorized"]);
    expect((await call(stack.url, "jobs/summary", { method: "POST", headers: { cookie: user.cookie } })).status).toBe(
      405,
    );
  });

  it("grants credentialed CORS to the dashboard's origins only", async () => {
    const user = await userWithJobs();
    const ok = await call(stack.url, "jobs/summary", { headers: { cookie: user.cookie, origin: stack.url } });
    expect(ok.headers.get("access-control-allow-origin")).toBe(stack.url);
    expect(ok.headers.get("access-control-allow-credentials")).toBe("true");
    const evil = await call(stack.url, "jobs/summary", {
      headers: { cookie: user.cookie, origin: "https://evil.example" },
    });
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe.skipIf(!hasChromium && !required)("the dashboard's Jobs view in a real browser", () => {
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!hasChromium)
      throw new Error(`KEYGATE_REQUIRE_ALL=1 but Chromium is missing at ${CHROMIUM}: apt-get install chromium`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it("shows counts by status and the latest jobs, the user's text as text, and updates on refresh", async () => {
    const user = await userWithJobs();
    const context = await browser!.newContext({ viewport: { width: 1200, height: 900 } });
    try {
      const { hostname } = new URL(stack.url);
      await context.addCookies([
        {
          name: "kg_session",
          value: user.cookie.split("=")[1],
          domain: hostname,
          path: "/",
          httpOnly: true,
          sameSite: "Lax",
        },
      ]);
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto(`${stack.url}/`);
      const view = page.locator("#jobs-view");
      await view.getByRole("heading", { name: "Jobs" }).waitFor();
      const count = (status: string) => view.locator(`.job-count[data-status="${status}"] strong`);
      await expect.poll(() => count("queued").textContent()).toBe("2");
      expect(await count("running").textContent()).toBe("1");
      expect(await count("failed").textContent()).toBe("1");
      expect(await count("succeeded").textContent()).toBe("1");

      const running = view.locator('tr[data-status="running"]');
      expect(await running.locator("th").textContent()).toBe("report.running");
      expect(await running.getByText("3 / 10").count()).toBe(1);
      const failed = view.locator('tr[data-status="failed"]');
      expect(await failed.textContent()).toContain("<b>no such month</b>");
      expect(await view.locator("b").count()).toBe(0);

      // For a human look at the view; kept out of the work tree.
      await page.screenshot({ path: path.join(os.tmpdir(), `keygate-jobs-view-${process.pid}.png`), fullPage: true });

      await jobs(`jobs/${user.ids.running}/complete`, user.key, post());
      await view.getByRole("button", { name: "Refresh jobs" }).click();
      await expect.poll(() => count("succeeded").textContent()).toBe("2");
      expect(await count("running").textContent()).toBe("0");
    } finally {
      await context.close();
    }
  });
});
