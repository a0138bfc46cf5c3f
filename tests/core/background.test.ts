import { afterEach, describe, expect, it } from "vitest";
import { runInBackground, runtimeWaitUntil } from "../../functions/_shared/core/background.ts";

const runtime = globalThis as { EdgeRuntime?: unknown };

afterEach(() => {
  delete runtime.EdgeRuntime;
});

describe("runInBackground", () => {
  it("hands the task to EdgeRuntime.waitUntil where the runtime has it", async () => {
    const handed: Promise<unknown>[] = [];
    runtime.EdgeRuntime = { waitUntil: (task: Promise<unknown>) => void handed.push(task) };
    let done = false;
    runInBackground(
      new Promise((r) => setTimeout(r, 10)).then(() => (done = true)),
      () => {},
    );
    expect(handed).toHaveLength(1);
    await handed[0];
    expect(done).toBe(true);
  });

  it("hands over a promise that never rejects, and reports the failure once", async () => {
    const handed: Promise<unknown>[] = [];
    const errors: unknown[] = [];
    const boom = new Error("boom");
    runInBackground(
      Promise.reject(boom),
      (err) => errors.push(err),
      (task) => void handed.push(task),
    );
    await expect(handed[0]).resolves.toBeUndefined();
    expect(errors).toEqual([boom]);
  });

  it("runs fire-and-forget without the runtime, and still reports a failure", async () => {
    expect(runtimeWaitUntil()).toBeUndefined();
    const errors: unknown[] = [];
    runInBackground(Promise.reject(new Error("late")), (err) => errors.push(err));
    await new Promise((r) => setTimeout(r, 0));
    expect(errors).toHaveLength(1);
  });

  it("survives a runtime that refuses the hand-over and a logger that throws", async () => {
    let ran = false;
    runInBackground(
      Promise.resolve().then(() => (ran = true)),
      () => {},
      () => {
        throw new Error("no request in flight");
      },
    );
    runInBackground(Promise.reject(new Error("x")), () => {
      throw new Error("logger down");
    });
    await new Promise((r) => setTimeout(r, 0));
    expect(ran).toBe(true);
  });
});
