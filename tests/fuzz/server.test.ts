/**
 * Fuzzing every route of the real server as an attacker would: random
 * methods, paths, headers (oversized and repeated ones too, and hostile
 * client address headers from a trusted proxy), query strings and bodies
 * (random JSON, deep nesting, huge numbers, wrong types, invalid UTF-8), each
 * request carrying the run's real credentials or garbage. Every
 * answer must be below 500, free of stack traces and SQL, and free of every
 * secret (the key, the session token, an authorization code); the server log
 * must hold none of them; and the server must answer normally afterwards.
 *
 * FUZZ_RUNS sets the number of requests (default 150, about half a minute
 * here); `npm run fuzz` runs a larger campaign. FUZZ_SEED replays a run.
 */
import { createHash, randomBytes } from "node:crypto";
import fc from "fast-check";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey, keyStart } from "../../functions/_shared/keys/format.ts";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";
import { startOidcProvider, type TestOidcProvider } from "../helpers/oidc.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";
import { createSession } from "../helpers/session.ts";
import {
  type Plan,
  planArbitrary,
  type RawResponse,
  type RenderContext,
  type RunSecrets,
  render,
  send,
} from "./requests.ts";
import { ROUTES } from "./routes.ts";

const RUNS = Number(process.env.FUZZ_RUNS ?? "150");
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

/** What must never reach a client: a stack frame, a file path, SQL or a driver's words. */
const LEAKS: RegExp[] = [
  /\bat [\w$.<>]+ \(/,
  /\bat (file|node|ext):/,
  /file:\/\//,
  /node_modules/,
  /\.ts:\d+/,
  /\.m?js:\d+:\d+/,
  /\bselect\b[\s\S]*\bfrom\b/i,
  /\binsert into\b/i,
  /\bupdate\b \w+ \bset\b/i,
  /\bkeygate\.\w+/,
  /\bpublic\.\w+/,
  /SQLSTATE/i,
  /\bsyntax error\b/i,
  /\bviolates\b/i,
  /\brelation "/i,
  /\bduplicate key\b/i,
  /\bpg_\w+/,
  /TypeError|ReferenceError|RangeError|SyntaxError/,
  /\bUncaught\b/,
  /\bDeno\./,
];

let database: TestDatabase;
let server: RunningServer;
let oidc: TestOidcProvider;
let userId: string;
let jobId: string;
let orgId: string;
let invitationId: string;
let ctx: Omit<RenderContext, "secrets">;
/** Every secret any run used or was handed: the server log must contain none. */
const allSecrets = new Set<string>();
/** How many answers each route and status got, to show the fuzz got past the front door. */
const tally = new Map<string, number>();

async function mintKey(): Promise<{ id: string; key: string }> {
  const key = generateApiKey("kg");
  const hash = createHash("sha256").update(key).digest();
  // The runs before end (so the user stays below the cap of active keys), and
  // the new key is dated two minutes back (so it does not count against the
  // per-minute creation rate): the fuzz's own POST /api-keys can still succeed.
  await database.admin.query(
    "update public.api_keys set revoked_at = now() where user_id = $1 and revoked_at is null",
    [userId],
  );
  const { rows } = await database.admin.query(
    `insert into public.api_keys (user_id, name, start, key_hash, scopes, created_at)
     values ($1, 'fuzz', $2, $3, '{jobs:read,jobs:write}', now() - interval '2 minutes') returning id`,
    [userId, keyStart(key), hash],
  );
  return { id: rows[0].id, key };
}

async function freshSecrets(): Promise<RunSecrets> {
  const { id: keyId, key } = await mintKey();
  const secrets = {
    sessionToken: await createSession(database.admin, userId),
    key,
    code: `Code${randomBytes(18).toString("base64url")}`,
    keyId,
    jobId,
    userId,
    orgId,
    invitationId,
  };
  for (const s of [secrets.sessionToken, secrets.key, secrets.code]) allSecrets.add(s);
  return secrets;
}

beforeAll(async () => {
  database = await createTestDatabase();
  userId = (await createUser(database.admin, { email: "fuzz@example.test", role: "admin" })).id;
  jobId = (
    await database.admin.query("insert into public.jobs (user_id, type) values ($1, 'fuzz') returning id", [userId])
  ).rows[0].id;
  orgId = (await database.admin.query("select id from keygate.create_organization($1, 'Fuzz', 'fuzz')", [userId]))
    .rows[0].id;
  invitationId = (
    await database.admin.query(
      "select id from keygate.create_invitation($1, $2, 'guest@example.test', 'member', $3, 86400)",
      [userId, orgId, randomBytes(32)],
    )
  ).rows[0].id;

  // Supabase bearer tokens are accepted against this JWKS; the fuzz only ever
  // presents tokens signed by another key, so no request reaches Supabase Auth.
  const trusted = await generateKeyPair("ES256", { extractable: true });
  const stranger = await generateKeyPair("ES256");
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(trusted.publicKey)), kid: "fuzz-1", alg: "ES256" }] });
  const forgedJwt = await new SignJWT({ role: "authenticated", email: "fuzz@example.test", email_verified: true })
    .setProtectedHeader({ alg: "ES256", kid: "fuzz-1" })
    .setSubject(crypto.randomUUID())
    .setAudience("authenticated")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(stranger.privateKey);

  oidc = await startOidcProvider({ redirectUris: () => [`${server.url}/functions/v1/auth/callback/oidc`] });
  server = await startServer({
    databaseUrl: database.url,
    env: {
      OIDC_ISSUER: oidc.issuer,
      OIDC_CLIENT_ID: oidc.clientId,
      OIDC_CLIENT_SECRET: oidc.clientSecret,
      SUPABASE_JWKS: jwks,
      SUPABASE_URL: "http://127.0.0.1:9",
      // The fuzz's own address is a trusted proxy, so the X-Forwarded-For it sends is parsed, not ignored.
      TRUSTED_PROXIES: "127.0.0.1",
    },
  });
  allSecrets.add(oidc.clientSecret);
  ctx = { origin: server.url, forgedKey: generateApiKey("kg"), forgedJwt };
});

afterAll(async () => {
  await server?.stop();
  await oidc?.stop();
  await database?.drop();
});

/** Why a response breaks the rules, or null. */
function violation(res: RawResponse, secrets: RunSecrets): string | null {
  if (res.status >= 500) return `status ${res.status}`;
  const type = String(res.headers["content-type"] ?? "");
  const dashboardFile = /javascript|css|html|svg|image/.test(type);
  if (!dashboardFile) {
    const leak = LEAKS.find((re) => re.test(res.body));
    if (leak) return `body matches ${leak}`;
  }
  // Every header too: only Set-Cookie may carry a new token (a fresh session), never one of ours.
  const visible = [res.body, ...Object.entries(res.headers).map(([k, v]) => `${k}: ${[v].flat().join(", ")}`)].join(
    "\n",
  );
  for (const [name, secret] of [
    ["key", secrets.key],
    ["key body", secrets.key.slice(10)],
    ["session token", secrets.sessionToken],
    ["code", secrets.code],
  ]) {
    if (visible.includes(secret)) return `the ${name} is echoed`;
  }
  // A key created or rotated by the fuzz is returned once, by design; it is a secret from then on.
  if (res.status === 201 && type.includes("json")) {
    const minted = (JSON.parse(res.body) as { key?: unknown }).key;
    if (typeof minted === "string") allSecrets.add(minted);
  }
  return null;
}

function describePlan(plan: Plan): string {
  return JSON.stringify(plan, (_k, v) =>
    typeof v === "string" && v.length > 200
      ? `${v.slice(0, 40)}...(${v.length})`
      : v instanceof Uint8Array
        ? [...v]
        : v,
  );
}

describe("fuzzing every route of the real server", () => {
  it(
    `answers ${RUNS} random requests below 500, with no trace, SQL or secret in any answer or log`,
    async () => {
      await fc.assert(
        fc.asyncProperty(planArbitrary, async (plan) => {
          const secrets = await freshSecrets();
          const req = render(plan, { ...ctx, secrets });
          let res: RawResponse;
          try {
            res = await send(new URL(server.url), req);
          } catch (err) {
            // Even headers too large to read get an answer (Deno's HTTP layer: 400), never a dropped connection.
            throw new Error(
              `${req.method} ${req.path.slice(0, 200)}: no answer (${(err as Error).message})\n${describePlan(plan)}`,
            );
          }
          const route = plan.static ? "static" : ROUTES[plan.target].path;
          const bucket = `${route} ${res.status}`;
          tally.set(bucket, (tally.get(bucket) ?? 0) + 1);
          const why = violation(res, secrets);
          if (why) {
            throw new Error(
              `${req.method} ${req.path.slice(0, 200)} -> ${res.status}: ${why}\n${res.body.slice(0, 500)}\n${describePlan(plan)}`,
            );
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
    },
    Math.max(60_000, RUNS * 1_000),
  );

  it("got past authentication and validation, not only refusals", () => {
    if (process.env.FUZZ_VERBOSE)
      console.log(
        [...tally]
          .sort()
          .map(([k, n]) => `${k}: ${n}`)
          .join("\n"),
      );
    const answered = (re: RegExp) => [...tally].some(([k, n]) => re.test(k) && n > 0);
    expect(answered(/ 2\d\d$/), "some request succeeded").toBe(true);
    expect(answered(/ 4\d\d$/), "some request was refused").toBe(true);
  });

  it("logged no secret it was handed or gave out", () => {
    const log = server.output();
    for (const secret of allSecrets) expect(log.includes(secret), "a secret in the server log").toBe(false);
    expect(log).not.toMatch(/unhandled error|Uncaught/);
  });

  it("is alive and answers normally afterwards", async () => {
    const secrets = await freshSecrets();
    const health = await fetch(`${server.url}/functions/v1/health`);
    expect(health.status).toBe(200);
    const verified = await fetch(`${server.url}/functions/v1/verify-key`, { headers: { "x-api-key": secrets.key } });
    expect(verified.status).toBe(200);
    expect(await verified.json()).toMatchObject({ valid: true, key_id: secrets.keyId });
    const session = await fetch(`${server.url}/functions/v1/auth/session`, {
      headers: { cookie: `kg_session=${secrets.sessionToken}` },
    });
    expect(session.status).toBe(200);
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
  });
});
