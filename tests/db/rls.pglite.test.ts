/**
 * The embedded path: the same shim and migrations, applied by the real
 * `supabase db push` to an in-process PGlite over pglite-socket, give the same
 * schema, Row Level Security and privileges as real Postgres.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../scripts/migrate.mjs";
import { type RunningPglite, startPglite } from "../helpers/pglite.ts";
import { connectRunner } from "../helpers/rls.ts";
import { projectRoot } from "../helpers/server.ts";
import { defineRlsMatrix } from "./rls-matrix.ts";

let pglite: RunningPglite;
let migrateOutput = "";

beforeAll(async () => {
  pglite = await startPglite();
  migrateOutput = await migrate(pglite.url, { quiet: true });
});
afterAll(async () => {
  await pglite?.stop();
});

describe("migrations on PGlite", () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: pglite.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
  });

  it("applies every migration with the Supabase CLI and records it", async () => {
    expect(migrateOutput).toContain("Finished supabase db push");
    const { rows } = await client.query("select version from supabase_migrations.schema_migrations order by version");
    const files = readdirSync(path.join(projectRoot, "supabase", "migrations")).filter((f) => f.endsWith(".sql"));
    expect(rows.map((r) => r.version)).toEqual(files.map((f) => f.split("_")[0]).sort());
  });

  it("runs the write functions: sign-in, key creation and verification", async () => {
    const email = `pglite-${randomUUID().slice(0, 8)}@example.test`;
    const {
      rows: [user],
    } = await client.query(
      "select * from keygate.upsert_user_from_identity('github', $1, $2, true, 'Embedded', null)",
      [`gh-${randomUUID()}`, email],
    );
    expect(user).toMatchObject({ email, name: "Embedded", is_active: true });
    const hash = randomBytes(32);
    const {
      rows: [key],
    } = await client.query("select * from keygate.create_api_key($1, 'embedded', 'kg_embedded', $2, '{jobs:read}')", [
      user.id,
      hash,
    ]);
    const { rows: looked } = await client.query(
      "select key_id, user_id, scopes, role from keygate.lookup_api_key($1)",
      [hash],
    );
    expect(looked).toEqual([{ key_id: key.id, user_id: user.id, scopes: ["jobs:read"], role: "viewer" }]);
    const { rows: verified } = await client.query("select key_id, user_id, scopes from keygate.verify_api_key($1)", [
      hash,
    ]);
    expect(verified).toEqual([{ key_id: key.id, user_id: user.id, scopes: ["jobs:read"] }]);
  });

  it("says it is up to date when migrated again", async () => {
    expect(await migrate(pglite.url, { quiet: true })).toMatch(/up to date/i);
  });
});

defineRlsMatrix("PGlite", async () => {
  const runner = await connectRunner(pglite.url);
  return { runner, close: () => runner.end() };
});
