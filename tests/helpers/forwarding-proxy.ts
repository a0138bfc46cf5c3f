/**
 * Starts tests/helpers/forwarding-proxy.mjs, a reverse proxy in its own
 * process, in front of a server: what `npm start` behind nginx or a load
 * balancer looks like from the server's side.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { projectRoot } from "./server.ts";

export interface ForwardingProxy {
  url: string;
  stop(): Promise<void>;
}

export async function startForwardingProxy({
  target,
  source,
  header = "x-forwarded-for",
}: {
  /** The server's base URL. */
  target: string;
  /** The loopback address the proxy connects to the server from: the TCP peer the server sees. */
  source: string;
  header?: "x-forwarded-for" | "forwarded";
}): Promise<ForwardingProxy> {
  const script = path.join(projectRoot, "tests", "helpers", "forwarding-proxy.mjs");
  const child = spawn(process.execPath, [script, "--target", target, "--source", source, "--header", header], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the proxy did not start in 10 s:\n${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /listening (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the proxy exited with ${code}:\n${output}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
