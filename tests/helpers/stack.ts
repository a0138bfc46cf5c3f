/**
 * The stack a server suite needs, in one line:
 *
 *   const stack = useStack({ oidc: true, env: { DEFAULT_ROLE: "member" } });
 *
 * registers `beforeAll`/`afterAll` that create a database with every
 * migration (through the pooler on the pooler run, see database.ts), start
 * the OpenID provider when asked (the server is its client, OIDC_* set), and
 * start the Deno server with `npm start`'s own entry; and stop them in
 * reverse. Read the parts through the getters inside tests and hooks.
 */
import type pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { type Call, type CallInit, call } from "./call.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";
import { startOidcProvider, type TestOidcOptions, type TestOidcProvider } from "./oidc.ts";
import { type RunningServer, startServer } from "./server.ts";

export interface StackOptions {
  /** Settings for the server, on top of the test defaults (development, a fresh SESSION_SECRET). */
  env?: Record<string, string>;
  /** Start a real OpenID provider and configure the server as its client. */
  oidc?: boolean | Omit<TestOidcOptions, "redirectUris">;
}

export interface Stack {
  readonly database: TestDatabase;
  /** The database as `postgres` (service role and table owner), for arranging and reading rows. */
  readonly admin: pg.Pool;
  readonly server: RunningServer;
  /** The server's base URL, such as `http://127.0.0.1:54321`. */
  readonly url: string;
  /** The OpenID provider; throws when the stack was made without `oidc`. */
  readonly oidc: TestOidcProvider;
  /** `call` against this server: `stack.call("verify-key", { headers })`. */
  call(path: string, init?: CallInit): Promise<Call>;
}

export function useStack(options: StackOptions = {}): Stack {
  let database: TestDatabase | undefined;
  let oidc: TestOidcProvider | undefined;
  let server: RunningServer | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = { ...options.env };
    if (options.oidc) {
      const extra = typeof options.oidc === "object" ? options.oidc : {};
      oidc = await startOidcProvider({
        ...extra,
        redirectUris: () => [`${server?.url}/functions/v1/auth/callback/oidc`],
      });
      Object.assign(env, {
        OIDC_ISSUER: oidc.issuer,
        OIDC_CLIENT_ID: oidc.clientId,
        OIDC_CLIENT_SECRET: oidc.clientSecret,
        ...options.env,
      });
    }
    server = await startServer({ databaseUrl: database.url, env });
  });
  afterAll(async () => {
    await server?.stop();
    await oidc?.stop();
    await database?.drop();
  });

  const started = <T>(part: T | undefined, name: string): T => {
    if (part === undefined) throw new Error(`the stack's ${name} is not running (read it inside a test or hook)`);
    return part;
  };
  return {
    get database() {
      return started(database, "database");
    },
    get admin() {
      return started(database, "database").admin;
    },
    get server() {
      return started(server, "server");
    },
    get url() {
      return started(server, "server").url;
    },
    get oidc() {
      return started(oidc, options.oidc ? "OpenID provider" : "OpenID provider (useStack({ oidc: true }))");
    },
    call: (path, init) => call(started(server, "server").url, path, init),
  };
}
