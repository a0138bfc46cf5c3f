/**
 * A real OpenID provider (panva/oidc-provider, OpenID certified) in-process on
 * loopback, for sign-in tests. Accounts are what the test puts in `accounts`;
 * `authorize` plays the browser at the provider: it follows the authorization
 * URL, signs in as the account through the provider's own (dev) interaction
 * form and returns the redirect back to the client (the callback URL with
 * `code`, `state` and `iss`). Consent is granted automatically (a first-party
 * client). The signing key is exposed so a test can forge or re-sign tokens.
 */

import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import Provider from "oidc-provider";
import { CookieClient } from "./cookie-client.ts";

/** A grant, as much of oidc-provider's as loadExistingGrant uses (the package ships no types). */
interface Grant {
  addOIDCScope(scope: string): void;
  save(): Promise<unknown>;
}

/** The part of oidc-provider's request context that loadExistingGrant reads. */
interface GrantContext {
  oidc: {
    result?: { consent?: { grantId?: string } };
    session: { accountId: string; grantIdFor(clientId: string): string | undefined };
    client: { clientId: string };
    provider: {
      Grant: {
        new (init: { clientId: string; accountId: string }): Grant;
        find(id: string): Promise<Grant | undefined>;
      };
    };
  };
}

export interface AccountClaims {
  email?: string;
  email_verified?: boolean;
  name?: string;
  picture?: string;
}

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, AccountClaims>;
  signing: { privateKey: CryptoKey; kid: string; alg: "RS256" };
  /** Number of token endpoint requests answered (to show a refused callback never reached it). */
  tokenRequests(): number;
  /** Signs in at the provider as `accountId`; returns where the provider sends the browser back. */
  authorize(authorizationUrl: string | URL, accountId: string, browser?: CookieClient): Promise<URL>;
  /** Declines at the provider (the user presses "abort"); returns the error redirect. */
  deny(authorizationUrl: string | URL, browser?: CookieClient): Promise<URL>;
  stop(): Promise<void>;
}

export interface TestOidcOptions {
  /** Read at the first request, so the client's URL may be known after the provider starts. */
  redirectUris: () => string[];
  /** false: profile claims also in the ID token; true (default): only via UserInfo. */
  conformIdTokenClaims?: boolean;
}

export async function startOidcProvider(options: TestOidcOptions): Promise<TestOidcProvider> {
  const accounts = new Map<string, AccountClaims>();
  const clientId = "keygate-test";
  const clientSecret = randomBytes(24).toString("base64url");
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = randomBytes(6).toString("hex");
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
  let tokenRequests = 0;

  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let callback: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;
  function build() {
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: options.redirectUris(),
          grant_types: ["authorization_code"],
          response_types: ["code"],
          token_endpoint_auth_method: "client_secret_basic",
        },
      ],
      jwks: { keys: [jwk] },
      cookies: { keys: [randomBytes(16).toString("hex")] },
      pkce: { required: () => true },
      scopes: ["openid", "email", "profile"],
      claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "picture"] },
      conformIdTokenClaims: options.conformIdTokenClaims ?? true,
      findAccount: (_ctx: unknown, id: string) => {
        const claims = accounts.get(id);
        if (!claims) return undefined;
        return { accountId: id, claims: () => ({ sub: id, ...claims }) };
      },
      // First-party client: grant the requested scopes without a consent screen.
      loadExistingGrant: async (ctx: GrantContext) => {
        const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
        if (grantId) return ctx.oidc.provider.Grant.find(grantId);
        const grant = new ctx.oidc.provider.Grant({
          clientId: ctx.oidc.client.clientId,
          accountId: ctx.oidc.session.accountId,
        });
        grant.addOIDCScope("openid email profile");
        await grant.save();
        return grant;
      },
      features: { devInteractions: { enabled: true } },
      ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
    });
    provider.on("grant.success", () => {
      tokenRequests += 1;
    });
    provider.on("grant.error", () => {
      tokenRequests += 1;
    });
    return provider.callback();
  }
  server.on("request", (req, res) => {
    const handle = callback ?? build();
    callback = handle;
    handle(req, res);
  });

  const backToClient = (next: URL) => next.origin !== issuer;

  async function toInteraction(url: string | URL, browser: CookieClient): Promise<URL> {
    const at = await browser.follow(url, (next) => next.pathname.startsWith("/interaction/") || backToClient(next));
    if (!(at instanceof URL)) throw new Error(`provider answered ${at.status}: ${(await at.text()).slice(0, 300)}`);
    return at;
  }

  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    signing: { privateKey, kid, alg: "RS256" },
    tokenRequests: () => tokenRequests,
    async authorize(authorizationUrl, accountId, browser = new CookieClient()) {
      let at = await toInteraction(authorizationUrl, browser);
      if (backToClient(at)) return at;
      const submitted = await browser.fetch(at, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ prompt: "login", login: accountId, password: "x" }),
      });
      const resume = submitted.headers.get("location");
      if (!resume)
        throw new Error(`interaction answered ${submitted.status}: ${(await submitted.text()).slice(0, 300)}`);
      at = await toInteraction(new URL(resume, at), browser);
      if (!backToClient(at)) throw new Error(`provider asked for another interaction: ${at}`);
      return at;
    },
    async deny(authorizationUrl, browser = new CookieClient()) {
      const at = await toInteraction(authorizationUrl, browser);
      if (backToClient(at)) throw new Error("provider did not ask to sign in");
      return await toInteraction(new URL(`${at.pathname}/abort`, at), browser);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
