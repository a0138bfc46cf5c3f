/**
 * `npm start` as a newcomer runs it: nothing configured, a fresh data folder,
 * the embedded PGlite, the real CLI migrations and the real Deno server.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort as freeEphemeralPort, projectRoot, startServer } from "../helpers/server.ts";

/**
 * A free port below the kernel's ephemeral range (32768-60999 on Linux).
 * npm start checks its port first and binds it only after migrating, and
 * meanwhile the embedded database and the development provider bind
 * ephemeral ports: one of those could take a port that itself came from the
 * ephemeral range (seen once in CI-like runs).
 */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = 20_000 + Math.floor(Math.random() * 10_000);
    if (await portIsFree(candidate)) return candidate;
  }
  return await freeEphemeralPort();
}

async function portIsFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function runStart(env: Record<string, string>, args: string[] = []): Started {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        !/^(DATABASE_URL|SUPABASE_DB_URL|OIDC_|OAUTH_|SESSION_SECRET|PUBLIC_URL|PORT|HOST$|KEYGATE_ENV$)/.test(k),
    ),
  );
  const child = spawn(process.execPath, ["scripts/start.mjs", ...args], {
    cwd: projectRoot,
    env: { ...clean, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, output: () => output, exited };
}

async function waitFor(started: Started, text: string, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!started.output().includes(text)) {
    if (started.child.exitCode !== null) throw new Error(`npm start exited early:\n${started.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for "${text}":\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("npm start on a fresh machine", () => {
  let dataDir: string;
  let port: number;
  let started: Started;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "keygate-start-"));
    port = await freePort();
    started = runStart({ KEYGATE_DATA_DIR: dataDir, PORT: String(port) });
    await waitFor(started, "Dashboard:");
  });
  afterAll(async () => {
    if (started?.child.exitCode === null) {
      started.child.kill("SIGTERM");
      await started.exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it("serves a healthy server on the embedded database and says what it runs", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/functions/v1/health`);
    expect(res.status).toBe(200);
    const out = started.output();
    expect(out).toContain(`Dashboard: http://127.0.0.1:${port}/`);
    expect(out).toContain("embedded PGlite");
    expect(out).toMatch(/DEVELOPMENT SIGN-IN IS ON/);
    expect(out).toContain("Ctrl+C");
    expect(out).toContain(`Listening: http://127.0.0.1:${port} (bound address)`);
  });

  it("serves the dashboard page at /", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
  });

  it("refuses to start on a port that is in use, and says so", async () => {
    const second = runStart({ KEYGATE_DATA_DIR: dataDir, PORT: String(port) });
    expect(await second.exited).not.toBe(0);
    expect(second.output()).toMatch(/port \d+ .*already in use/);
  });

  it("stops cleanly on SIGTERM", async () => {
    started.child.kill("SIGTERM");
    await started.exited;
    await expect(fetch(`http://127.0.0.1:${port}/functions/v1/health`)).rejects.toThrow();
  });

  it("keeps the embedded database on --reset without a terminal to confirm", async () => {
    const refused = runStart({ KEYGATE_DATA_DIR: dataDir, PORT: String(await freePort()) }, ["--reset"]);
    expect(await refused.exited).not.toBe(0);
    expect(refused.output()).toMatch(/pass --yes/);
    expect(existsSync(path.join(dataDir, "pglite"))).toBe(true);
  });

  it("wipes the embedded database on --reset --yes and starts fresh", async () => {
    const resetPort = await freePort();
    const reset = runStart({ KEYGATE_DATA_DIR: dataDir, PORT: String(resetPort) }, ["--reset", "--yes"]);
    try {
      await waitFor(reset, "Dashboard:");
      expect(reset.output()).toContain("Embedded database deleted.");
      expect((await fetch(`http://127.0.0.1:${resetPort}/functions/v1/health`)).status).toBe(200);
    } finally {
      reset.child.kill("SIGTERM");
      await reset.exited;
    }
  }, 120_000); // a fresh embedded database runs every migration: as long as beforeAll's start
});

describe("npm start without a provider on a public URL", () => {
  it("refuses to run the development provider and exits non-zero", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "keygate-start-"));
    try {
      const started = runStart({
        KEYGATE_DATA_DIR: dataDir,
        PORT: String(await freePort()),
        PUBLIC_URL: "https://keygate.example.com",
      });
      expect(await started.exited).not.toBe(0);
      expect(started.output()).toMatch(/development provider only runs on loopback/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("npm start bound to a non-loopback address", () => {
  // Nothing here ever binds: each run must be refused before the server starts.
  async function refused(env: Record<string, string>): Promise<string> {
    const dataDir = await mkdtemp(path.join(tmpdir(), "keygate-start-"));
    try {
      const started = runStart({ KEYGATE_DATA_DIR: dataDir, PORT: String(await freePort()), ...env });
      const stillRunning = new Promise<string>((r) => setTimeout(() => r("still running"), 20_000).unref());
      const outcome = await Promise.race([started.exited, stillRunning]);
      if (outcome === "still running") {
        started.child.kill("SIGTERM");
        await started.exited;
      }
      expect(outcome, started.output()).not.toBe("still running");
      expect(outcome).not.toBe(0);
      expect(existsSync(path.join(dataDir, "pglite")), "no database was started").toBe(false);
      return started.output();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  it("refuses HOST=0.0.0.0 in development mode, whatever PUBLIC_URL says", async () => {
    const out = await refused({ HOST: "0.0.0.0" });
    expect(out).toMatch(/HOST=0\.0\.0\.0 is not a loopback address.*development/s);
    expect(out).not.toContain("Keygate is running");
  });

  it("refuses HOST=:: when the development provider would run, even outside development mode", async () => {
    const out = await refused({ HOST: "::", KEYGATE_ENV: "production", SESSION_SECRET: "s".repeat(43) });
    expect(out).toMatch(/HOST=:: is not a loopback address.*development OpenID provider/s);
  });
});

describe("the Deno server on its own", () => {
  it("refuses a non-loopback HOST in development mode before it binds", async () => {
    const outcome = await startServer({
      databaseUrl: "postgresql://postgres@127.0.0.1:1/none",
      env: { HOST: "0.0.0.0" },
    }).catch((err: Error) => err);
    if (!(outcome instanceof Error)) await outcome.stop();
    expect(outcome).toBeInstanceOf(Error);
    expect(String(outcome)).toMatch(/exited with 1[\s\S]*HOST=0\.0\.0\.0 is not a loopback address/);
  });
});

describe("a configuration error", () => {
  it("stops the server at start-up with the variable's name and no stack", async () => {
    const outcome = await startServer({
      databaseUrl: "postgresql://postgres@127.0.0.1:1/none",
      env: { ALLOWED_REDIRECT_ORIGINS: "app.example.com" },
    }).catch((err: Error) => err);
    if (!(outcome instanceof Error)) await outcome.stop();
    expect(String(outcome)).toMatch(
      /exited with 1[\s\S]*ALLOWED_REDIRECT_ORIGINS: "app\.example\.com" is not an http\(s\) origin/,
    );
    expect(String(outcome)).not.toMatch(/\bat \w+ \(|file:\/\//);
  });
});
