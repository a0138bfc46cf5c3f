/**
 * `npm start` as a newcomer runs it: nothing configured, a fresh data folder,
 * the embedded PGlite, the real CLI migrations and the real Deno server.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { freePort as freeEphemeralPort, projectRoot, startServer } from "../helpers/server.ts";

/**
 * A free port below the kernel's ephemeral range (32768-60999 on Linux).
 * npm start binds its port only after migrating, and meanwhile the embedded
 * database and the development provider bind ephemeral ports: one of those
 * could take a port that itself came from the ephemeral range (seen once in
 * CI-like runs).
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

/**
 * `node scripts/start.mjs`, or `npm start` with `via: "npm"`. In its own
 * process group, so that a test can clean up (`killGroup`) whatever a broken
 * shutdown would leave behind.
 */
function runStart(env: Record<string, string>, args: string[] = [], via: "node" | "npm" = "node"): Started {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        !/^(DATABASE_URL|SUPABASE_DB_URL|OIDC_|OAUTH_|SESSION_SECRET|PUBLIC_URL|PORT|HOST$|KEYGATE_ENV$|DEV_OIDC_PORT$|DASHBOARD_PORT$|TRUSTED_PROXIES$|CLIENT_IP_HEADER$)/.test(
          k,
        ),
    ),
  );
  const [command, argv] =
    via === "npm" ? ["npm", ["start", "--", ...args]] : [process.execPath, ["scripts/start.mjs", ...args]];
  const child = spawn(command, argv, {
    cwd: projectRoot,
    env: { ...clean, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, output: () => output, exited };
}

/** The run's exit code, or "still running" after `ms` (a bound on a wait that should be short). */
async function exitedWithin(started: Started, ms: number): Promise<number | null | "still running"> {
  let timer: NodeJS.Timeout | undefined;
  const stillRunning = new Promise<"still running">((r) => {
    timer = setTimeout(() => r("still running"), ms);
  });
  try {
    return await Promise.race([started.exited, stillRunning]);
  } finally {
    clearTimeout(timer);
  }
}

/** Kills what is left of a run's process group (nothing, when its shutdown did its job). */
function killGroup(started: Started): void {
  try {
    process.kill(-started.child.pid!, "SIGKILL");
  } catch {
    // the group is gone already
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** The ports of `ports` something still listens on `withinMs` after asking (none, as soon as all are closed). */
async function stillListening(ports: number[], withinMs = 5_000): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const open = (await Promise.all(ports.map(async (p) => ((await listening(p)) ? p : null)))).filter(
      (p) => p !== null,
    );
    if (open.length === 0 || Date.now() > deadline) return open;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function holdPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
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
    if (started) killGroup(started);
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

  it("refuses a second npm start on the same embedded database, and leaves the first alone", async () => {
    const second = runStart({ KEYGATE_DATA_DIR: dataDir, PORT: String(await freePort()) });
    const outcome = await exitedWithin(second, 20_000);
    killGroup(second);
    expect(outcome).not.toBe("still running");
    expect(outcome).not.toBe(0);
    expect(second.output()).toMatch(/another npm start \(process \d+\) is using the embedded database/);
    expect(second.output()).not.toContain("Migrating");
    expect((await fetch(`http://127.0.0.1:${port}/functions/v1/health`)).status).toBe(200);
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

describe("npm start's ports and children", () => {
  let t: TestDatabase;
  let dataDir: string;

  beforeAll(async () => {
    t = await createTestDatabase();
    dataDir = await mkdtemp(path.join(tmpdir(), "keygate-start-"));
  });
  afterAll(async () => {
    await t?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** PORT, DEV_OIDC_PORT and DASHBOARD_PORT, each free, on an external database. */
  async function ports() {
    const [server, oidc, dashboard] = [await freePort(), await freePort(), await freePort()];
    const env = {
      KEYGATE_DATA_DIR: dataDir,
      DATABASE_URL: t.url,
      PORT: String(server),
      DEV_OIDC_PORT: String(oidc),
      DASHBOARD_PORT: String(dashboard),
    };
    return { env, all: [server, oidc, dashboard], server, oidc, dashboard };
  }

  for (const [signal, via] of [
    ["SIGTERM", "node"],
    ["SIGINT", "node"],
    // npm passes SIGTERM to the shell that runs the script, which does not pass it on.
    ["SIGTERM", "npm"],
  ] as const) {
    it(`stops every child on ${signal} to ${via === "npm" ? "npm start" : "node scripts/start.mjs"}: nothing listens on its ports`, async () => {
      const { env, all, oidc } = await ports();
      const started = runStart(env, [], via);
      try {
        await waitFor(started, "Dashboard on another site:");
        await waitFor(started, "second origin) listening");
        expect(started.output()).toContain(`development OpenID provider at http://127.0.0.1:${oidc}`);
        expect(await stillListening(all, 0)).toEqual(all);
        started.child.kill(signal);
        expect(await stillListening(all)).toEqual([]);
      } finally {
        killGroup(started);
      }
    }, 120_000);
  }

  for (const [setting, message] of [
    ["PORT", /Port (\d+) on 127\.0\.0\.1 is already in use\. Stop what uses it, or set PORT to another port\./],
    ["DEV_OIDC_PORT", /DEV_OIDC_PORT (\d+) on 127\.0\.0\.1 is already in use\. Stop what uses it, or choose another/],
    ["DASHBOARD_PORT", /DASHBOARD_PORT (\d+) on 127\.0\.0\.1 is already in use\. Stop what uses it, or choose another/],
  ] as const) {
    it(`fails the bind of a ${setting} in use with a message naming it, and leaves nothing running`, async () => {
      const { env, all, server, oidc, dashboard } = await ports();
      const taken = { PORT: server, DEV_OIDC_PORT: oidc, DASHBOARD_PORT: dashboard }[setting];
      const holder = await holdPort(taken);
      const started = runStart(env);
      try {
        const outcome = await exitedWithin(started, 90_000);
        expect(outcome, started.output()).not.toBe("still running");
        expect(outcome).not.toBe(0);
        const out = started.output();
        expect(message.exec(out)?.[1], out).toBe(String(taken));
        expect(out).not.toContain("Keygate is running");
        expect(out).not.toMatch(/\bat \w+ \(|file:\/\//);
        expect(await stillListening(all.filter((p) => p !== taken))).toEqual([]);
      } finally {
        killGroup(started);
        await new Promise((r) => holder.close(r));
      }
    }, 120_000);
  }
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

describe("the Deno server's start-up notes", () => {
  const supabase = { SUPABASE_URL: "http://127.0.0.1:9", SUPABASE_JWKS: '{"keys": []}' };
  const unreachable = "postgresql://postgres@127.0.0.1:1/none";

  it("stops at start-up on a TRUSTED_PROXIES entry that is not an address or range, naming it", async () => {
    const outcome = await startServer({
      databaseUrl: unreachable,
      env: { TRUSTED_PROXIES: "127.0.0.1, proxy.internal" },
    }).catch((err: Error) => err);
    if (!(outcome instanceof Error)) await outcome.stop();
    expect(String(outcome)).toMatch(
      /exited with 1[\s\S]*TRUSTED_PROXIES: "proxy\.internal" is not an IP address or CIDR range/,
    );
    expect(String(outcome)).not.toMatch(/\bat \w+ \(|file:\/\//);
  });

  it("says in development that new Supabase users can never sign in without a publishable key", async () => {
    const server = await startServer({ databaseUrl: unreachable, env: supabase });
    try {
      expect(server.output()).toMatch(
        /Warning: Supabase access tokens are accepted .* every new Supabase user is refused .*SUPABASE_EMAIL_VERIFIED_CLAIM=true/,
      );
      expect(server.output()).toContain("Client address: the TCP peer");
    } finally {
      await server.stop();
    }
  });

  it("refuses to start so in production, unless a hook's email_verified claim is acknowledged", async () => {
    const production = { ...supabase, KEYGATE_ENV: "production" };
    const outcome = await startServer({ databaseUrl: unreachable, env: production }).catch((err: Error) => err);
    if (!(outcome instanceof Error)) await outcome.stop();
    expect(String(outcome)).toMatch(/exited with 1[\s\S]*no publishable key is set/);

    const acknowledged = await startServer({
      databaseUrl: unreachable,
      env: { ...production, SUPABASE_EMAIL_VERIFIED_CLAIM: "true" },
    });
    try {
      expect(acknowledged.output()).not.toMatch(/publishable key/);
    } finally {
      await acknowledged.stop();
    }
  });
});
