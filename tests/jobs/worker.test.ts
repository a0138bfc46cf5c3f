/**
 * The worker example (examples/worker.ts) against the real local server: in
 * process, and as its own Deno process stopped by a signal.
 */
import { spawn } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { demoHandler, runWorker } from "../../examples/worker.ts";
import { until } from "../helpers/call.ts";
import { anotherKey, type KeyHolder, userWithKey } from "../helpers/keys.ts";
import { denoBin, projectRoot } from "../helpers/server.ts";
import { useStack } from "../helpers/stack.ts";
import { jobsClient, post, statusOf } from "./helpers.ts";

let jobs: ReturnType<typeof jobsClient>;

const stack = useStack();
beforeAll(async () => {
  jobs = jobsClient(stack.url);
});

async function submit(holder: KeyHolder, body: Record<string, unknown>): Promise<string> {
  return (await jobs("jobs", holder.key, post(body))).body.id;
}

const finishedStatuses = async (ids: string[]) => Promise.all(ids.map((id) => statusOf(stack.admin, id)));
const allFinished = (statuses: string[]) => statuses.every((s) => s !== "queued" && s !== "running");

describe("examples/worker.ts", () => {
  it("claims, reports progress, completes or fails each job, and stops when asked", async () => {
    const owner = await userWithKey(stack.admin);
    const worker = await anotherKey(stack.admin, owner, ["jobs:work"]);
    const ok = await submit(owner, { type: "demo", payload: { steps: 3, step_ms: 10 } });
    const bad = await submit(owner, { type: "demo", payload: { fail: "no such report" }, max_attempts: 1 });
    const stop = new AbortController();
    const lines: string[] = [];
    const running = runWorker({
      url: stack.url,
      apiKey: worker.key,
      handle: demoHandler,
      stop: stop.signal,
      idleMs: 50,
      log: (l) => lines.push(l),
    });
    const statuses = await until(() => finishedStatuses([ok, bad]), allFinished, 20_000);
    stop.abort();
    expect(await running).toEqual({ finished: 2 });
    expect(statuses).toEqual(["succeeded", "failed"]);
    const done = (await jobs(`jobs/${ok}`, owner.key)).body;
    expect(done).toMatchObject({
      result: { steps: 3, type: "demo" },
      progress: { done: 3, total: 3 },
      claimed_by_key_id: worker.keyId,
    });
    expect((await jobs(`jobs/${bad}`, owner.key)).body).toMatchObject({ status: "failed", error: "no such report" });
    expect(lines.join("\n")).not.toContain(worker.key);
  });

  it("abandons a job canceled while it runs and goes on to the next", async () => {
    const owner = await userWithKey(stack.admin);
    const slow = await submit(owner, { type: "slow", payload: { steps: 200, step_ms: 50 } });
    const next = await submit(owner, { type: "slow", payload: { steps: 1, step_ms: 1 } });
    const stop = new AbortController();
    const running = runWorker({
      url: stack.url,
      apiKey: owner.key,
      handle: demoHandler,
      stop: stop.signal,
      idleMs: 50,
      log: () => {},
    });
    await until(
      () => statusOf(stack.admin, slow),
      (s) => s === "running",
      10_000,
    );
    expect((await jobs(`jobs/${slow}/cancel`, owner.key, post())).status).toBe(200);
    const statuses = await until(() => finishedStatuses([slow, next]), allFinished, 20_000);
    stop.abort();
    await running;
    expect(statuses).toEqual(["canceled", "succeeded"]);
  });

  it("runs as a Deno process and, on SIGTERM, finishes the job in hand and exits 0", async () => {
    const owner = await userWithKey(stack.admin);
    const id = await submit(owner, { type: "signal", payload: { steps: 8, step_ms: 150 } });
    const child = spawn(denoBin, ["run", "--allow-env", "--allow-net", "--no-config", "examples/worker.ts"], {
      cwd: projectRoot,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DENO_DIR: process.env.DENO_DIR ?? "",
        NO_COLOR: "1",
        KEYGATE_URL: stack.url,
        KEYGATE_API_KEY: owner.key,
        KEYGATE_LEASE_SECONDS: "5",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      expect(
        await until(
          () => statusOf(stack.admin, id),
          (s) => s === "running",
          30_000,
        ),
      ).toBe("running");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    expect(await statusOf(stack.admin, id)).toBe("succeeded");
    expect(output).toContain("SIGTERM: finishing the job in hand");
    expect(output).toContain("worker stopped after 1 jobs");
    expect(output).not.toContain(owner.key);
  });
});
