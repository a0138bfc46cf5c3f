#!/usr/bin/env node
// @ts-check
// `npm start`: runs Keygate locally.
//
// With DATABASE_URL (or SUPABASE_DB_URL) set it uses that Postgres; otherwise
// an embedded PGlite kept under .data/, served over the Postgres wire protocol
// (pglite-socket) so the functions use one data path either way. It migrates
// the database with the real Supabase CLI, starts the development OpenID
// provider when no provider is configured (loopback only), and serves every
// function under Deno at /functions/v1/<name> with the dashboard at /.
//
// Flags: --reset wipes the embedded database first (asks unless --yes).
//
// Every port is bound once, by what serves it: a port in use fails that bind
// with a message naming its setting, rather than a check that another
// process could race. SIGINT, SIGTERM and SIGHUP stop everything started, in
// reverse order; so does the end of the process that started this one (npm
// forwards SIGTERM to its shell, which does not pass it on).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { fileURLToPath } from "node:url";
import { isLoopbackHost } from "../functions/_shared/core/loopback.js";
import { denoRunArgs } from "./deno-run.mjs";
import { startEmbeddedDatabase } from "./embedded-db.mjs";
import { migrate } from "./migrate.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const env = process.env;
const dataDir = path.resolve(root, env.KEYGATE_DATA_DIR ?? ".data");
// The embedded database and the development provider always bind loopback;
// the server binds HOST (loopback unless said otherwise, and only in production).
const host = "127.0.0.1";
const bindHost = env.HOST?.trim() || host;
const port = Number(env.PORT ?? "54321");
const publicUrl = (env.PUBLIC_URL ?? `http://${host}:${port}`).replace(/\/+$/, "");
// DASHBOARD_PORT: the dashboard also on http://localhost:<port>, another site than the functions.
const dashboardPort = env.DASHBOARD_PORT ? Number(env.DASHBOARD_PORT) : undefined;
const dashboardOrigin = dashboardPort === undefined ? undefined : `http://localhost:${dashboardPort}`;
// DEV_OIDC_PORT: the development OpenID provider's port (unset or 0: a free one).
const devOidcPort = env.DEV_OIDC_PORT ? Number(env.DEV_OIDC_PORT) : 0;
/** What to stop on the way out, last started first. @type {(() => unknown)[]} */
const cleanups = [];
/** Set once stopping has begun: nothing new is started after it. @type {Promise<void> | undefined} */
let stopping;

/** @param {string} message */
function fail(message) {
  console.error(`\nkeygate: ${message}`);
  process.exitCode = 1;
  return shutdown();
}

function shutdown() {
  stopping ??= (async () => {
    for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) {
      try {
        await cleanup();
      } catch {
        // keep stopping the rest
      }
    }
    process.exit();
  })();
  return stopping;
}

/** @param {unknown} value @returns {value is number} */
function isPort(value) {
  return Number.isInteger(value) && Number(value) >= 1 && Number(value) <= 65535;
}

/** @param {number} pid */
function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return /** @type {NodeJS.ErrnoException} */ (err).code === "EPERM";
  }
}

/**
 * Claims the embedded database for this process (KEYGATE_DATA_DIR/pglite.lock):
 * two processes on one PGlite folder would corrupt it. A lock whose process
 * is gone is taken over. Returns false (after failing) when another holds it.
 */
async function lockEmbedded() {
  await mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, "pglite.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: "wx" });
      cleanups.push(() => rm(file, { force: true }));
      return true;
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== "EEXIST") throw err;
      const holder = Number((await readFile(file, "utf8").catch(() => "")).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder)) {
        await fail(
          `another npm start (process ${holder}) is using the embedded database in ${path.relative(root, dataDir) || dataDir}. ` +
            `Stop it first, or set KEYGATE_DATA_DIR to another folder. If no such process is running, delete ${file}.`,
        );
        return false;
      }
      await rm(file, { force: true });
    }
  }
  await fail(`cannot lock the embedded database (${file}).`);
  return false;
}

/** @param {string} question */
async function confirm(question) {
  if (args.has("--yes")) return true;
  if (!process.stdin.isTTY) {
    console.error(`${question} Refusing without a terminal; pass --yes to confirm.`);
    return false;
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

async function resetEmbedded() {
  const target = path.join(dataDir, "pglite");
  if (!(await confirm(`Delete the embedded database in ${path.relative(root, target) || target}?`))) {
    return fail("reset cancelled; nothing was deleted.");
  }
  await rm(target, { recursive: true, force: true });
  console.log("Embedded database deleted.");
}

/** Starts PGlite under .data/ behind a loopback Postgres socket; returns its URL. */
async function startEmbedded() {
  await mkdir(dataDir, { recursive: true });
  const embedded = await startEmbeddedDatabase({ dataDir: path.join(dataDir, "pglite"), host });
  cleanups.push(() => embedded.stop());
  return embedded.url;
}

/** SESSION_SECRET for development: generated once and kept in .data/. */
async function devSessionSecret() {
  const file = path.join(dataDir, "session-secret");
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    const secret = randomBytes(32).toString("base64url");
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
    return secret;
  }
}

/**
 * @param {string} url
 * @param {boolean} embedded
 */
function describeDatabase(url, embedded) {
  if (embedded) {
    const dir = path.join(dataDir, "pglite");
    const relative = path.relative(root, dir);
    return `embedded PGlite in ${relative.startsWith("..") ? dir : relative}`;
  }
  const u = new URL(url);
  return `Postgres at ${u.hostname}:${u.port || 5432}${u.pathname}`;
}

async function main() {
  const development = (env.KEYGATE_ENV ?? "development") === "development";
  const devSignIn = !env.OAUTH_GITHUB_CLIENT_ID && !env.OAUTH_GOOGLE_CLIENT_ID && !env.OIDC_ISSUER;
  if ((development || devSignIn) && !isLoopbackHost(bindHost)) {
    const why = devSignIn
      ? "the development OpenID provider would let anyone who reaches it sign in as anyone"
      : "development mode is on";
    return fail(
      `HOST=${bindHost} is not a loopback address, and ${why}. Bind 127.0.0.1 (unset HOST), or run in production (KEYGATE_ENV=production, SESSION_SECRET and a real provider) behind your proxy.`,
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) return fail(`PORT must be a port number, not ${env.PORT}.`);
  if (dashboardPort !== undefined && (!isPort(dashboardPort) || dashboardPort === port)) {
    return fail(`DASHBOARD_PORT must be a port number other than PORT, not ${env.DASHBOARD_PORT}.`);
  }
  if (devOidcPort !== 0 && (!isPort(devOidcPort) || devOidcPort === port || devOidcPort === dashboardPort)) {
    return fail(`DEV_OIDC_PORT must be a port number other than PORT and DASHBOARD_PORT, not ${env.DEV_OIDC_PORT}.`);
  }
  /** @type {string[]} */
  const providers = [];
  if (env.OAUTH_GITHUB_CLIENT_ID) providers.push("GitHub");
  if (env.OAUTH_GOOGLE_CLIENT_ID) providers.push("Google");
  if (env.OIDC_ISSUER) providers.push(`${env.OIDC_NAME ?? "OpenID"} (${env.OIDC_ISSUER})`);
  if (providers.length === 0 && !isLoopbackHost(new URL(publicUrl).hostname)) {
    return fail(
      `no sign-in provider is configured, and the development provider only runs on loopback (PUBLIC_URL is ${publicUrl}). Configure OIDC_ISSUER, OAUTH_GITHUB_* or OAUTH_GOOGLE_*.`,
    );
  }

  const external = env.DATABASE_URL || env.SUPABASE_DB_URL;
  if ((!external || args.has("--reset")) && !(await lockEmbedded())) return;
  if (args.has("--reset")) await resetEmbedded();

  if (stopping) return;
  const databaseUrl = external || (await startEmbedded());
  console.log(`Migrating the database (${describeDatabase(databaseUrl, !external)})...`);
  try {
    await migrate(databaseUrl, { quiet: true });
  } catch (err) {
    return fail(
      `migration failed; nothing half-applied was kept.\n${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (stopping) return;

  /** @type {NodeJS.ProcessEnv} */
  const serverEnv = {
    ...env,
    KEYGATE_ENV: development ? "development" : env.KEYGATE_ENV,
    DATABASE_URL: databaseUrl,
    HOST: bindHost,
    PORT: String(port),
    PUBLIC_URL: publicUrl,
    NO_COLOR: "1",
  };
  // PGlite serves one session: all functions share one connection to it. An
  // external database keeps the functions' own default (or DB_POOL_MAX).
  if (!external) serverEnv.DB_POOL_MAX = "1";
  if (dashboardOrigin && development) {
    // The second origin may receive sign-ins and call auth/api-keys (CORS), in development only.
    serverEnv.ALLOWED_REDIRECT_ORIGINS = [env.ALLOWED_REDIRECT_ORIGINS, dashboardOrigin].filter(Boolean).join(",");
  }
  if (!env.SESSION_SECRET) {
    if (!development) return fail("SESSION_SECRET is required outside development.");
    serverEnv.SESSION_SECRET = await devSessionSecret();
  }

  /** @type {Awaited<ReturnType<typeof import("./dev-oidc.mjs").startDevProvider>> | undefined} */
  let devProvider;
  if (providers.length === 0) {
    const { startDevProvider } = await import("./dev-oidc.mjs");
    let provider;
    try {
      provider = await startDevProvider({ host, port: devOidcPort, publicUrl });
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== "EADDRINUSE") throw err;
      return fail(
        `DEV_OIDC_PORT ${devOidcPort} on ${host} is already in use. Stop what uses it, or choose another (unset, a free port is picked).`,
      );
    }
    cleanups.push(() => provider.stop());
    if (stopping) return;
    devProvider = provider;
    Object.assign(serverEnv, {
      OIDC_ISSUER: provider.issuer,
      OIDC_CLIENT_ID: provider.clientId,
      OIDC_CLIENT_SECRET: provider.clientSecret,
      OIDC_NAME: "Development sign-in (not for production)",
      // Anyone may sign in as anyone here, so viewer protects nothing; member lets a newcomer's key submit jobs.
      DEFAULT_ROLE: env.DEFAULT_ROLE ?? "member",
    });
    providers.push(`development OpenID provider at ${provider.issuer}`);
  }

  if (stopping) return;
  const deno = spawn(path.join(root, "node_modules", ".bin", "deno"), denoRunArgs("scripts/serve.ts"), {
    cwd: root,
    env: serverEnv,
    stdio: ["ignore", "pipe", "inherit"],
  });
  cleanups.push(async () => {
    if (deno.exitCode !== null || deno.signalCode !== null) return;
    const exited = new Promise((r) => deno.once("exit", r));
    deno.kill("SIGTERM");
    const timer = setTimeout(() => deno.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  });
  deno.on("exit", (code) => {
    if (code !== 0 && code !== null) fail(`the Deno server stopped (exit ${code}).`);
  });

  let announced = false;
  let partial = "";
  /** @param {string} line */
  const onLine = (line) => {
    const listening = announced ? null : /Keygate listening on (\S+)/.exec(line);
    if (listening) {
      announced = true;
      const lines = [
        "",
        "Keygate is running.",
        `  Dashboard: ${publicUrl}/`,
        ...(dashboardOrigin
          ? [`  Dashboard on another site: ${dashboardOrigin}/  (signs in with a bearer token, not the cookie)`]
          : []),
        `  Listening: ${listening[1]} (bound address)`,
        `  Functions: ${publicUrl}/functions/v1/<name>  (health, auth, api-keys, verify-key, jobs, admin)`,
        `  Database:  ${describeDatabase(databaseUrl, !external)}`,
        `  Sign-in:   ${providers.join(", ")}`,
        "  Stop:      Ctrl+C",
      ];
      if (devProvider) {
        lines.push(
          "",
          "  !!! DEVELOPMENT SIGN-IN IS ON: anyone who can reach this machine's loopback can sign in as anyone.",
          "  !!! It is for trying Keygate locally only. Configure a real provider before exposing it.",
        );
      }
      console.log(`${lines.join("\n")}\n`);
    } else {
      process.stdout.write(`${line}\n`);
    }
  };
  deno.stdout.on("data", (chunk) => {
    const lines = (partial + String(chunk)).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  });
}

for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"])) process.on(signal, () => shutdown());
// Whoever started this process has gone (npm signalled its shell, which died without passing the signal on): stop too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown();
}, 500).unref();
main().catch((err) => fail(err?.stack ?? String(err)));
