/**
 * Who the client is, through the real Deno server and a real reverse proxy in
 * its own process (tests/helpers/forwarding-proxy.mjs): behind a proxy in
 * TRUSTED_PROXIES each client keeps its own failure budget and its own
 * address in the audit log; behind one that is not trusted, the proxy is the
 * client and its header means nothing. Linux routes all of 127.0.0.0/8 to lo,
 * so 127.0.0.2 and 127.0.0.3 are two clients, and 127.0.0.10 the proxy.
 */
import http from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generateApiKey } from "../../functions/_shared/keys/format.ts";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";
import { type ForwardingProxy, startForwardingProxy } from "../helpers/forwarding-proxy.ts";
import { insertKey } from "../helpers/keys.ts";
import { inFreshWindow } from "../helpers/limit-window.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";
import { createSession } from "../helpers/session.ts";

const LIMIT = 3;
const CLIENT_A = "127.0.0.2";
const CLIENT_B = "127.0.0.3";
// The counts are cluster-wide, kept in the database both servers share: the second server's clients are others.
const CLIENT_C = "127.0.0.4";
const CLIENT_D = "127.0.0.5";
const TRUSTED = "127.0.0.10";
const UNTRUSTED = "127.0.0.11";

interface Answer {
  status: number;
  body: { valid?: boolean };
}

/** One request to `base` from the loopback source address `from`, on its own connection. */
function call(
  base: string,
  from: string,
  path: string,
  { method = "GET", headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, localAddress: from, headers, agent: false }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : {} }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const verify = (base: string, from: string, key: string, headers: Record<string, string> = {}) =>
  call(base, from, "/functions/v1/verify-key", { headers: { "x-api-key": key, ...headers } });

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
});
// Each test spends a per-minute budget: it must not straddle the minute.
beforeEach(() => inFreshWindow());
afterAll(async () => {
  await t?.drop();
});

describe("behind a reverse proxy that appends X-Forwarded-For", () => {
  let server: RunningServer;
  let trusted: ForwardingProxy;
  let untrusted: ForwardingProxy;

  beforeAll(async () => {
    server = await startServer({
      databaseUrl: t.url,
      env: { API_KEY_FAILURES_PER_MINUTE: String(LIMIT), TRUSTED_PROXIES: TRUSTED },
    });
    trusted = await startForwardingProxy({ target: server.url, source: TRUSTED });
    untrusted = await startForwardingProxy({ target: server.url, source: UNTRUSTED });
  });
  afterAll(async () => {
    await trusted?.stop();
    await untrusted?.stop();
    await server?.stop();
  });

  it("says at start-up where the client's address comes from", () => {
    expect(server.output()).toContain(
      `Client address: the x-forwarded-for header from a trusted proxy (${TRUSTED}); any other TCP peer is the client itself.`,
    );
  });

  it("never throttles a client that presented no bad key for another client's bad keys", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    // Client A forges keys, each time claiming another address: the proxy appends the peer it saw, which decides.
    for (let i = 0; i < LIMIT; i++) {
      const forged = { "x-forwarded-for": `192.0.2.${i + 1}` };
      expect((await verify(trusted.url, CLIENT_A, generateApiKey("kg"), forged)).status).toBe(401);
    }
    expect(
      (await verify(trusted.url, CLIENT_A, generateApiKey("kg"), { "x-forwarded-for": "192.0.2.99" })).status,
    ).toBe(429);
    // Client B, through the same proxy, with a valid key the server has not seen (so it needs a read).
    const other = await verify(trusted.url, CLIENT_B, key);
    expect(other.status).toBe(200);
    expect(other.body.valid).toBe(true);
    expect((await verify(trusted.url, CLIENT_B, generateApiKey("kg"))).status).toBe(401);
  });

  it("ignores the header of a proxy that is not trusted: everyone behind it is one client", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    for (let i = 0; i < LIMIT; i++) {
      expect((await verify(untrusted.url, CLIENT_A, generateApiKey("kg"))).status).toBe(401);
    }
    // Its X-Forwarded-For names client B, but the peer is the untrusted proxy, whose budget is spent.
    expect((await verify(untrusted.url, CLIENT_B, key)).status).toBe(429);
    expect((await verify(server.url, CLIENT_B, key)).status).toBe(200);
  });

  it("records in the audit log the client behind a trusted proxy, and the TCP peer otherwise", async () => {
    const user = await createUser(t.admin);
    const cookie = `kg_session=${await createSession(t.admin, user.id)}`;
    const create = (base: string, from: string, name: string) =>
      call(base, from, "/functions/v1/api-keys", {
        method: "POST",
        headers: {
          cookie,
          origin: server.url,
          "content-type": "application/json",
          "x-forwarded-for": "198.51.100.66",
          "cf-connecting-ip": "198.51.100.67",
        },
        body: JSON.stringify({ name }),
      });
    expect((await create(trusted.url, CLIENT_A, "through the trusted proxy")).status).toBe(201);
    expect((await create(untrusted.url, CLIENT_A, "through the untrusted proxy")).status).toBe(201);
    expect((await create(server.url, CLIENT_B, "direct")).status).toBe(201);
    const { rows } = await t.admin.query(
      `select details->>'name' as name, host(client_address) as address from public.audit_events
        where actor_id = $1 and action = 'key.created' order by id`,
      [user.id],
    );
    expect(rows).toEqual([
      { name: "through the trusted proxy", address: CLIENT_A },
      { name: "through the untrusted proxy", address: UNTRUSTED },
      { name: "direct", address: CLIENT_B },
    ]);
  });
});

describe("behind a reverse proxy that appends RFC 7239 Forwarded", () => {
  let server: RunningServer;
  let proxy: ForwardingProxy;

  beforeAll(async () => {
    server = await startServer({
      databaseUrl: t.url,
      env: {
        API_KEY_FAILURES_PER_MINUTE: String(LIMIT),
        TRUSTED_PROXIES: `${TRUSTED}, 127.0.0.1`,
        CLIENT_IP_HEADER: "forwarded",
      },
    });
    proxy = await startForwardingProxy({ target: server.url, source: TRUSTED, header: "forwarded" });
  });
  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
  });

  it("keeps two clients' failure budgets apart, whatever Forwarded the client sent", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    for (let i = 0; i < LIMIT; i++) {
      const forged = { forwarded: i % 2 ? `for="[2001:db8::${i}]"` : 'for="garbage' };
      expect((await verify(proxy.url, CLIENT_C, generateApiKey("kg"), forged)).status).toBe(401);
    }
    expect((await verify(proxy.url, CLIENT_C, generateApiKey("kg"))).status).toBe(429);
    expect((await verify(proxy.url, CLIENT_D, key)).status).toBe(200);
  });

  it("counts every address of one IPv6 /64 as one client, and another /64 as another", async () => {
    const user = await createUser(t.admin);
    const { key } = await insertKey(t.admin, user.id);
    // The test speaks as the trusted proxy (127.0.0.1) for clients of 2001:db8:1:2::/64.
    const as = (client: string, k: string) =>
      verify(server.url, "127.0.0.1", k, { forwarded: `for="[${client}]:4711";proto=http` });
    for (let i = 1; i <= LIMIT; i++) {
      expect((await as(`2001:db8:1:2::${i.toString(16)}`, generateApiKey("kg"))).status).toBe(401);
    }
    expect((await as("2001:DB8:1:2:ffff:ffff:ffff:ffff", generateApiKey("kg"))).status).toBe(429);
    expect((await as("2001:db8:1:3::1", key)).status).toBe(200);
  });
});
