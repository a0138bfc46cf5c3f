import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";

describe("health function on the real Deno server", () => {
  let database: TestDatabase;
  let server: RunningServer;

  beforeAll(async () => {
    database = await createTestDatabase();
    server = await startServer({ databaseUrl: database.url });
  });
  afterAll(async () => {
    await server?.stop();
    await database?.drop();
  });

  it("reports the database as reachable", async () => {
    const res = await fetch(`${server.url}/functions/v1/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", database: "ok" });
  });

  it("answers unknown functions with a JSON 404", async () => {
    const res = await fetch(`${server.url}/functions/v1/nope`);
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe("not_found");
  });
});

describe("health function with the database down", () => {
  let server: RunningServer;
  beforeAll(async () => {
    // Nothing listens on port 1: every connection is refused.
    server = await startServer({ databaseUrl: "postgresql://postgres@127.0.0.1:1/postgres" });
  });
  afterAll(async () => server?.stop());

  it("answers 503 service_unavailable, not a crash", async () => {
    const res = await fetch(`${server.url}/functions/v1/health`);
    expect(res.status).toBe(503);
    const body = await res.json();
    expect(body.error.code).toBe("service_unavailable");
    expect(JSON.stringify(body)).not.toContain("ECONNREFUSED");
  });
});
