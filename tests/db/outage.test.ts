import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../../functions/_shared/keys/format.ts";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";
import { insertKey } from "../helpers/keys.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";

async function health(server: RunningServer) {
  const res = await fetch(`${server.url}/functions/v1/health`);
  return { status: res.status, body: await res.json() };
}

describe("a database outage", () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let server: RunningServer;

  beforeAll(async () => {
    database = await createTestDatabase();
    const target = new URL(database.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(database.url);
    viaProxy.port = String(proxy.port);
    server = await startServer({ databaseUrl: viaProxy.toString() });
  });
  afterAll(async () => {
    await server?.stop();
    await proxy?.close();
    await database?.drop();
  });

  it("answers 503 while the database is unreachable and recovers by itself", async () => {
    expect((await health(server)).status).toBe(200);

    await proxy.cut();
    const during = await health(server);
    expect(during.status).toBe(503);
    expect(during.body.error.code).toBe("service_unavailable");

    await proxy.restore();
    // The pool drops the broken connections and opens new ones: no restart needed.
    let after = await health(server);
    for (let i = 0; i < 20 && after.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      after = await health(server);
    }
    expect(after.status).toBe(200);
    expect(server.output()).not.toMatch(/postgres(ql)?:\/\/[^\s"]*@/);
  });

  it("answers key checks that need the database 503, never 401, and recovers by itself", async () => {
    const user = await createUser(database.admin);
    const { key } = await insertKey(database.admin, user.id);
    const fn = (path: string, apiKey: string) =>
      fetch(`${server.url}/functions/v1/${path}`, { headers: { "x-api-key": apiKey } });
    const unseen = generateApiKey("kg"); // well-formed: only the database can say it is unknown

    await proxy.cut();
    for (const res of [await fn("verify-key", unseen), await fn("verify-key", key), await fn("jobs", key)]) {
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toMatch(/^[1-5]$/);
      expect((await res.json()).error.code).toBe("service_unavailable");
    }
    // A malformed key needs no database: still the usual refusal.
    expect((await fn("verify-key", "kg_not-a-key")).status).toBe(401);

    await proxy.restore();
    let after = await fn("verify-key", key);
    for (let i = 0; i < 20 && after.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      after = await fn("verify-key", key);
    }
    expect(after.status).toBe(200);
    expect((await fn("verify-key", unseen)).status).toBe(401);
    expect((await fn("jobs", key)).status).toBe(200);
    expect(server.output()).not.toContain(key);
  });
});
