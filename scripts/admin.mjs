#!/usr/bin/env node
// @ts-check
// The operator's command for roles and capabilities, reaching the database
// directly (never through a function, so no client can reach it):
//
//   npm run admin -- grant <email> <role or capability>...    e.g. grant ada@example.com admin
//   npm run admin -- revoke <email> <capability>...
//   npm run admin -- show <email>
//
// Roles: viewer, member, admin. Capabilities: users.read, users.manage,
// keys.revoke_any, audit.read, capabilities.grant. It uses DATABASE_URL (or
// SUPABASE_DB_URL); with neither, the embedded database of `npm start` under
// KEYGATE_DATA_DIR (default .data), which must not be running at the time.
// The user must have signed in once. Each change is recorded in the audit log
// with no actor and the user agent "keygate admin command". Removing the last
// active admin is refused, as in the admin API.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const ROLES = ["viewer", "member", "admin"];
const CAPABILITIES = ["users.read", "users.manage", "keys.revoke_any", "audit.read", "capabilities.grant"];
const USAGE = `usage: npm run admin -- grant <email> <role or capability>...
       npm run admin -- revoke <email> <capability>...
       npm run admin -- show <email>
roles: ${ROLES.join(", ")}
capabilities: ${CAPABILITIES.join(", ")}`;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * @param {string} message
 * @param {number} [code]
 * @returns {never}
 */
function fail(message, code = 1) {
  console.error(`keygate admin: ${message}`);
  process.exit(code);
}

/**
 * What to do, from the arguments, or null when they make no sense.
 * @param {string[]} args
 * @returns {{ verb: "grant" | "revoke" | "show", email: string, role: string | null, add: string[], remove: string[] } | null}
 */
export function parseArgs(args) {
  const [verb, email, ...names] = args;
  if (!email || !/^[^@\s]+@[^@\s]+$/.test(email)) return null;
  if (verb === "show" && names.length === 0) return { verb, email, role: null, add: [], remove: [] };
  if (verb !== "grant" && verb !== "revoke") return null;
  if (names.length === 0) return null;
  const roles = names.filter((n) => ROLES.includes(n));
  const capabilities = names.filter((n) => CAPABILITIES.includes(n));
  if (roles.length + capabilities.length !== names.length || roles.length > 1) return null;
  if (verb === "revoke" && roles.length > 0) return null;
  return verb === "grant"
    ? { verb, email, role: roles[0] ?? null, add: capabilities, remove: [] }
    : { verb, email, role: null, add: [], remove: capabilities };
}

/** @returns {Promise<{ url: string, stop(): Promise<void> }>} */
async function openDatabase() {
  const url = process.env.DATABASE_URL || process.env.SUPABASE_DB_URL;
  if (url) return { url, stop: async () => {} };
  const dir = path.resolve(root, process.env.KEYGATE_DATA_DIR ?? ".data", "pglite");
  if (!existsSync(dir)) fail("set DATABASE_URL (no embedded database found either: run npm start once first)");
  const { startEmbeddedDatabase } = await import("./embedded-db.mjs");
  return await startEmbeddedDatabase({ dataDir: dir });
}

/** @param {Record<string, unknown>} user */
function describe(user) {
  const caps = /** @type {string[]} */ (user.capabilities);
  return (
    `${user.email}: role ${user.role}, capabilities ${caps.length ? caps.join(", ") : "none"}` +
    `${user.role === "admin" ? " (the admin role implies all)" : ""}, ${user.is_active ? "active" : "deactivated"}`
  );
}

async function main() {
  const plan = parseArgs(process.argv.slice(2));
  if (!plan) fail(`nothing done.\n${USAGE}`, 2);
  const database = await openDatabase();
  const client = new pg.Client({ connectionString: database.url });
  try {
    await client.connect();
    const {
      rows: [found],
    } = await client.query(
      "select u.* from public.users x, keygate.admin_get_user(x.id) u where lower(x.email) = lower($1)",
      [plan.email],
    );
    if (!found) fail(`no user with the email ${plan.email}: they must sign in once first.`);
    let user = found;
    if (plan.verb !== "show") {
      const current = /** @type {string[]} */ (found.capabilities);
      const capabilities =
        plan.add.length || plan.remove.length
          ? [...new Set([...current, ...plan.add])].filter((c) => !plan.remove.includes(c))
          : null;
      const { rows } = await client.query("select * from keygate.admin_update_user_by_email($1, $2, $3)", [
        plan.email,
        plan.role,
        capabilities,
      ]);
      user = rows[0];
    }
    console.log(describe(user));
  } catch (err) {
    const e = /** @type {{ code?: string, message?: string }} */ (err);
    if (e.code === "KG008") fail("refused: that is the last active admin. Make another admin first.");
    fail(e.message ?? String(err));
  } finally {
    await client.end().catch(() => {});
    await database.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
