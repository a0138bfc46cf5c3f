/**
 * Runs the real `npm start` stack (scripts/start.mjs: embedded PGlite,
 * migrations, development OpenID provider, Deno server) on a free port with a
 * fresh data directory, as a newcomer would, and stops its process group.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort, projectRoot } from "../helpers/server.ts";

export interface RunningStack {
  /** e.g. "http://127.0.0.1:43123" (no trailing slash) */
  url: string;
  /** With `dashboardOnAnotherSite`: the dashboard's second origin, e.g. "http://localhost:43124". */
  dashboardUrl?: string;
  output(): string;
  stop(): Promise<void>;
}

/** Variables that would make `npm start` use something other than its defaults. */
const UNSET =
  /^(DATABASE_URL|SUPABASE_DB_URL|PUBLIC_URL|SESSION_SECRET|KEYGATE_ENV|ALLOWED_REDIRECT_ORIGINS|DASHBOARD_PORT|OIDC_.*|OAUTH_.*)$/;

/** `dashboardOnAnotherSite`: also serve the dashboard on http://localhost:<port> (DASHBOARD_PORT). */
export async function startStack({ timeoutMs = 120_000, dashboardOnAnotherSite = false } = {}): Promise<RunningStack> {
  const port = await freePort();
  const dashboardPort = dashboardOnAnotherSite ? await freePort() : undefined;
  const dataDir = await mkdtemp(path.join(tmpdir(), "keygate-web-"));
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !UNSET.test(name)) env[name] = value;
  }
  Object.assign(env, { PORT: String(port), KEYGATE_DATA_DIR: dataDir, NO_COLOR: "1" });
  if (dashboardPort !== undefined) env.DASHBOARD_PORT = String(dashboardPort);

  const child = spawn(process.execPath, ["scripts/start.mjs"], {
    cwd: projectRoot,
    env,
    detached: true, // its own process group, so stop() ends PGlite, the provider and Deno together
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  async function stop() {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // already gone
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    }
    // Anything of the group still running (a Deno server stuck in a graceful shutdown) goes too.
    if (child.pid) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // the group is already empty
      }
    }
    await rm(dataDir, { recursive: true, force: true });
  }

  const url = `http://127.0.0.1:${port}`;
  const ready = `Dashboard: ${url}/`;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`npm start did not print "${ready}" within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = () => {
        if (output.includes(ready)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on("data", check);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited (code ${code}) before it was ready`));
      });
      check();
    });
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- output ---\n${output}`);
  }
  const dashboardUrl = dashboardPort === undefined ? undefined : `http://localhost:${dashboardPort}`;
  return { url, dashboardUrl, output: () => output, stop };
}
