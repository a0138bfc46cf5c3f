/**
 * The embedded database behind `npm start`: PGlite's one session is shared by
 * every socket connection, so a reconnecting pool must still find a clean
 * session (regression: after one SQL error or an idle disconnect, every
 * named statement failed with 42P05 until the server was restarted).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeygateError } from "../../functions/_shared/core/errors.ts";
import { createDb } from "../../functions/_shared/db/db.ts";
import { type RunningPglite, startPglite } from "../helpers/pglite.ts";

describe("the embedded database over pglite-socket", () => {
  let pglite: RunningPglite;
  beforeAll(async () => {
    pglite = await startPglite();
  });
  afterAll(async () => pglite?.stop());

  it("keeps named statements working after a query error makes the pool reconnect", async () => {
    const db = createDb(pglite.url, { max: 1 });
    try {
      expect(await db.query("select 1 as one")).toEqual([{ one: 1 }]);
      // pg-pool throws the connection away after an error; the next one reaches the same session.
      await expect(db.query("select 1 / 0")).rejects.toBeInstanceOf(KeygateError);
      expect(await db.query("select 1 as one")).toEqual([{ one: 1 }]);
    } finally {
      await db.end();
    }
  });

  it("gives a new connection a clean session after the previous one closed", async () => {
    const first = new pg.Client({ connectionString: pglite.url });
    await first.connect();
    await first.query({ name: "kg_probe_2", text: "select 2 as two", values: [] });
    await first.end();

    const second = new pg.Client({ connectionString: pglite.url });
    await second.connect();
    try {
      const { rows } = await second.query({ name: "kg_probe_2", text: "select 2 as two", values: [] });
      expect(rows).toEqual([{ two: 2 }]);
    } finally {
      await second.end();
    }
  });
});
