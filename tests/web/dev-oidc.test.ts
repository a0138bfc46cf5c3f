/**
 * The development OpenID provider (scripts/dev-oidc.mjs): a real oidc-provider
 * driven through a full authorization code flow with PKCE by oauth4webapi,
 * plus its refusal to run anywhere but loopback.
 */

import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountIdFor, startDevProvider } from "../../scripts/dev-oidc.mjs";

const PUBLIC_URL = "http://127.0.0.1:54399";
const REDIRECT_URI = `${PUBLIC_URL}/functions/v1/auth/callback/oidc`;

describe("development provider refusal", () => {
  it.each(["https://keygate.example.com", "http://10.0.0.5:54321", "http://0.0.0.0:54321", "http://192.168.1.2"])(
    "refuses to start when PUBLIC_URL is %s",
    async (publicUrl) => {
      await expect(startDevProvider({ publicUrl })).rejects.toThrow(/not a loopback address/);
    },
  );

  it("refuses to bind a non-loopback host", async () => {
    await expect(startDevProvider({ publicUrl: PUBLIC_URL, host: "0.0.0.0" })).rejects.toThrow(
      /loopback addresses only/,
    );
  });

  it("starts for localhost and ::1 style PUBLIC_URLs", async () => {
    for (const publicUrl of ["http://localhost:54321", "http://[::1]:54321"]) {
      const dev = await startDevProvider({ publicUrl });
      expect(dev.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await dev.stop();
    }
  });
});

describe("development provider sign-in", () => {
  let dev: Awaited<ReturnType<typeof startDevProvider>>;
  let as: oauth.AuthorizationServer;
  let client: oauth.Client;
  const options = { [oauth.allowInsecureRequests]: true };

  beforeAll(async () => {
    dev = await startDevProvider({ publicUrl: PUBLIC_URL });
    const issuer = new URL(dev.issuer);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, options));
    client = { client_id: dev.clientId };
  });
  afterAll(async () => {
    await dev?.stop();
  });

  /** A tiny browser: follows redirects by hand and keeps cookies, stopping at the client's redirect URI. */
  function createBrowser() {
    const jar = new Map<string, string>();
    async function go(url: string, init: RequestInit = {}): Promise<Response> {
      let target = url;
      let request = init;
      for (let hop = 0; hop < 10; hop++) {
        if (target.startsWith(REDIRECT_URI)) return new Response(null, { status: 302, headers: { location: target } });
        const headers = new Headers(request.headers);
        headers.set("cookie", [...jar].map(([k, v]) => `${k}=${v}`).join("; "));
        const res = await fetch(target, { ...request, headers, redirect: "manual" });
        for (const line of res.headers.getSetCookie()) {
          const [pair] = line.split(";");
          const eq = pair.indexOf("=");
          jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
        }
        const location = res.headers.get("location");
        if (res.status < 300 || res.status >= 400 || !location) return res;
        target = new URL(location, target).href;
        request = {};
      }
      throw new Error("too many redirects");
    }
    return { go };
  }

  async function startAuthorization(browser: ReturnType<typeof createBrowser>) {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: dev.clientId,
      redirect_uri: REDIRECT_URI,
      response_type: "code",
      scope: "openid email profile",
      state,
      nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    }).toString();
    const page = await browser.go(url.href);
    return { page, verifier, state, nonce };
  }

  async function finish(callback: Response, flow: { verifier: string; state: string; nonce: string }) {
    expect(callback.status).toBe(302);
    const params = oauth.validateAuthResponse(as, client, new URL(callback.headers.get("location")!), flow.state);
    const tokenResponse = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(dev.clientSecret),
      params,
      REDIRECT_URI,
      flow.verifier,
      options,
    );
    const result = await oauth.processAuthorizationCodeResponse(as, client, tokenResponse, {
      expectedNonce: flow.nonce,
      requireIdToken: true,
    });
    return oauth.getValidatedIdTokenClaims(result)!;
  }

  function formAction(html: string): string {
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error("no sign-in form on the page");
    return new URL(action.replaceAll("&#47;", "/"), dev.issuer).href;
  }

  it("shows a loudly labelled sign-in page and signs in as a preset identity", async () => {
    const browser = createBrowser();
    const flow = await startAuthorization(browser);
    expect(flow.page.status).toBe(200);
    const html = await flow.page.text();
    expect(html).toContain("DEVELOPMENT ONLY — not a real identity provider");
    expect(html).toContain("Grace Hopper");

    const callback = await browser.go(formAction(html), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "preset=grace",
    });
    const claims = await finish(callback, flow);
    expect(claims).toMatchObject({
      sub: accountIdFor("grace@example.com"),
      email: "grace@example.com",
      email_verified: true,
      name: "Grace Hopper",
    });
    const picture = String(claims.picture);
    expect(picture).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(Buffer.from(picture.split(",")[1], "base64").toString()).toContain(">GH</text>");
  });

  it("signs in as a typed identity, with a subject derived from the email", async () => {
    const browser = createBrowser();
    const flow = await startAuthorization(browser);
    const callback = await browser.go(formAction(await flow.page.text()), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ name: "Test Person", email: "Test.Person@Example.org" }).toString(),
    });
    const claims = await finish(callback, flow);
    expect(claims).toMatchObject({
      sub: accountIdFor("test.person@example.org"),
      email: "test.person@example.org",
      name: "Test Person",
    });
    expect(accountIdFor("test.person@example.org")).toBe(accountIdFor(" TEST.person@example.org"));
  });

  it("asks again for an identity on the next sign-in in the same browser", async () => {
    const browser = createBrowser();
    const first = await startAuthorization(browser);
    await finish(
      await browser.go(formAction(await first.page.text()), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "preset=ada",
      }),
      first,
    );
    const second = await startAuthorization(browser);
    expect(second.page.status).toBe(200);
    expect(await second.page.text()).toContain("Sign in as Ada Lovelace");
  });

  it("re-shows the form with a message for an invalid email", async () => {
    const browser = createBrowser();
    const flow = await startAuthorization(browser);
    const res = await browser.go(formAction(await flow.page.text()), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "name=Nobody&email=not-an-email",
    });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("Type an email address like someone@example.com.");
    expect(html).toContain('value="not-an-email"');
  });

  it("refuses a token request without the PKCE verifier", async () => {
    const browser = createBrowser();
    const flow = await startAuthorization(browser);
    const callback = await browser.go(formAction(await flow.page.text()), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "preset=alan",
    });
    const params = oauth.validateAuthResponse(as, client, new URL(callback.headers.get("location")!), flow.state);
    const res = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(dev.clientSecret),
      params,
      REDIRECT_URI,
      oauth.generateRandomCodeVerifier(),
      options,
    );
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe("invalid_grant");
  });
});
