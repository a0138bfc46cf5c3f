/**
 * Starts the real Deno server (scripts/serve.ts) on a free loopback port,
 * as `npm start` does, for end-to-end tests.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { denoRunArgs } from "../../scripts/deno-run.mjs";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const denoBin = path.join(projectRoot, "node_modules", ".bin", "deno");

export function denoServeArgs(): string[] {
  return denoRunArgs("scripts/serve.ts");
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RunningServer {
  url: string;
  pid: number;
  /** Everything the server printed so far (for asserting that no secret is logged). */
  output(): string;
  stop(): Promise<void>;
}

export async function startServer({
  databaseUrl,
  env = {},
}: {
  databaseUrl: string;
  env?: Record<string, string>;
}): Promise<RunningServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(denoBin, denoServeArgs(), {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DENO_DIR: process.env.DENO_DIR ?? "",
      NO_COLOR: "1",
      KEYGATE_ENV: "development",
      SESSION_SECRET: randomBytes(32).toString("base64url"),
      PORT: String(port),
      PUBLIC_URL: url,
      DATABASE_URL: databaseUrl,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Deno server did not start in 60 s:\n${output}`)), 60_000);
    const onData = () => {
      if (output.includes("Keygate listening on")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Deno server exited with ${code}:\n${output}`));
    });
  });

  return {
    url,
    pid: child.pid!,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
