/**
 * The per-client limit on failed key verifications, through the real Deno
 * server: the local server vouches for the TCP peer (as the platform's
 * gateway does on Supabase), so two loopback addresses are two clients, and
 * a header a client sends itself changes nothing.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../../functions/_shared/keys/format.ts";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";
import { insertKey } from "./helpers.ts";

const LIMIT = 3;
let t: TestDatabase;
let server: RunningServer;

beforeAll(async () => {
  t = await createTestDatabase();
  server = await startServer({ databaseUrl: t.url, env: { API_KEY_FAILURES_PER_MINUTE: String(LIMIT) } });
});
afterAll(async () => {
  await server?.stop();
  await t?.drop();
});

/** GET verify-key from a chosen loopback source address (Linux routes all of 127.0.0.0/8 to lo). */
function verifyFrom(
  localAddress: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: { valid: boolean; error?: unknown } }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${server.url}/functions/v1/verify-key`,
      { localAddress, headers, agent: false },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("failed verifications per client", () => {
  it("answers 429 with Retry-After past the limit, whatever address the client claims, and leaves other clients alone", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    const forged = { "cf-connecting-ip": "192.0.2.99", "x-forwarded-for": "192.0.2.98" };
    for (let i = 0; i < LIMIT; i++) {
      expect((await verifyFrom("127.0.0.1", { "x-api-key": generateApiKey("kg"), ...forged })).status).toBe(401);
    }
    const limited = await verifyFrom("127.0.0.1", {
      "x-api-key": generateApiKey("kg"),
      "cf-connecting-ip": "192.0.2.97",
    });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(limited.body).toEqual({ valid: false, error: { code: "rate_limited", message: expect.any(String) } });
    // A valid key the server has not seen needs a read: refused for this client too, until the budget refills.
    expect((await verifyFrom("127.0.0.1", { "x-api-key": key })).status).toBe(429);

    const other = await verifyFrom("127.0.0.2", { "x-api-key": key });
    expect(other.status).toBe(200);
    expect(other.body.valid).toBe(true);
    expect((await verifyFrom("127.0.0.2", { "x-api-key": generateApiKey("kg") })).status).toBe(401);
    // Now cached: answered for the limited client too, with no read.
    expect((await verifyFrom("127.0.0.1", { "x-api-key": key })).status).toBe(200);
  });
});
