// @ts-check
// The development OpenID provider that `npm start` runs when no real provider
// is configured, so a newcomer can sign in at once. It is a real OpenID
// provider (oidc-provider) with one confidential client, PKCE required, and a
// sign-in page where anyone picks or types a test identity: it must never face
// a network, so it binds loopback only and refuses a non-loopback PUBLIC_URL.
// Its signing and cookie keys are generated at start and live in memory only.

import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import { exportJWK, generateKeyPair } from "jose";
import Provider, { interactionPolicy } from "oidc-provider";
import { isLoopbackHost } from "../functions/_shared/core/loopback.js";
import { avatarDataUrl } from "./dev-oidc/avatar.mjs";
import { escapeHtml, PRESET_IDENTITIES, renderLoginPage } from "./dev-oidc/login-page.mjs";
import { createMemoryAdapter } from "./dev-oidc/memory-adapter.mjs";

export const DEV_CLIENT_ID = "keygate-dev";
const SCOPE = "openid email profile";
const MAX_FORM_BYTES = 4096;

/**
 * A stable subject per email, so the same test person is the same user across restarts.
 * @param {string} email
 */
export function accountIdFor(email) {
  return `dev-${createHash("sha256").update(email.trim().toLowerCase()).digest("base64url").slice(0, 22)}`;
}

/** @param {string} publicUrl @param {string} host */
function assertLoopback(publicUrl, host) {
  let url;
  try {
    url = new URL(publicUrl);
  } catch {
    throw new Error(
      `The development OpenID provider needs a valid PUBLIC_URL; got ${JSON.stringify(String(publicUrl))}`,
    );
  }
  if (!isLoopbackHost(url.hostname)) {
    throw new Error(
      `Refusing to start the development OpenID provider: PUBLIC_URL (${url.origin}) is not a loopback address. ` +
        "It lets anyone sign in as anyone, so it runs only on 127.0.0.1, ::1 or localhost. " +
        "Configure a real provider (OAUTH_GITHUB_*, OAUTH_GOOGLE_* or OIDC_*) instead.",
    );
  }
  if (!isLoopbackHost(host)) {
    throw new Error(`Refusing to start the development OpenID provider on ${host}: it binds loopback addresses only`);
  }
  return url.href.replace(/\/+$/, "");
}

/**
 * Starts the provider on `host:port` (port 0 picks a free one).
 * @param {{ host?: string, port?: number, publicUrl: string }} options
 * @returns {Promise<{ issuer: string, clientId: string, clientSecret: string, stop(): Promise<void> }>}
 */
export async function startDevProvider({ host = "127.0.0.1", port = 0, publicUrl }) {
  const base = assertLoopback(publicUrl, host);
  const clientSecret = randomBytes(32).toString("base64url");
  /** @type {Map<string, { email: string, name: string }>} */
  const accounts = new Map();

  const server = http.createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(undefined));
  });
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  const issuer = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;

  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const signingKey = {
    ...(await exportJWK(privateKey)),
    kid: randomBytes(8).toString("hex"),
    alg: "RS256",
    use: "sig",
  };

  const policy = interactionPolicy.base();
  // Ask for an identity on every sign-in, so signing out of the dashboard and in
  // again lets the person pick another test identity.
  policy
    .get("login")
    .checks.add(
      new interactionPolicy.Check(
        "dev_choose_identity",
        "the development provider asks for a test identity on every sign-in",
        (/** @type {any} */ ctx) =>
          ctx.oidc.result?.login ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT,
      ),
    );

  const provider = new Provider(issuer, {
    adapter: createMemoryAdapter(),
    clients: [
      {
        client_id: DEV_CLIENT_ID,
        client_secret: clientSecret,
        client_name: "Keygate (local development)",
        redirect_uris: [`${base}/functions/v1/auth/callback/oidc`],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        // client_secret_post is accepted as well: oidc-provider treats the two as one.
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    pkce: { required: () => true },
    responseTypes: ["code"],
    scopes: SCOPE.split(" "),
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "picture"] },
    // Put the profile claims in the ID token too, so a client that skips userinfo still gets them.
    conformIdTokenClaims: false,
    findAccount: (/** @type {unknown} */ _ctx, /** @type {string} */ id) => {
      const profile = accounts.get(id);
      if (!profile) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          email: profile.email,
          email_verified: true,
          name: profile.name,
          picture: avatarDataUrl(id, profile.name),
        }),
      };
    },
    interactions: {
      policy,
      url: (/** @type {unknown} */ _ctx, /** @type {{ uid: string }} */ interaction) =>
        `/interaction/${interaction.uid}`,
    },
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: false } },
    clientBasedCORS: () => false,
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
    renderError: (/** @type {any} */ ctx, /** @type {{ error: string, error_description?: string }} */ out) => {
      ctx.type = "html";
      ctx.body = messagePage(
        "Sign-in failed",
        `The development provider answered: ${out.error_description ?? out.error}.`,
        base,
      );
    },
  });
  provider.on("server_error", (/** @type {unknown} */ _ctx, /** @type {Error} */ err) =>
    console.error("[dev-oidc] server error:", err.message),
  );

  const interactions = createInteractionRoutes({ provider, accounts, base });
  const providerCallback = provider.callback();
  server.on("request", (req, res) => {
    interactions(req, res)
      .then((handled) => {
        if (!handled) providerCallback(req, res);
      })
      .catch((err) => {
        console.error("[dev-oidc] interaction error:", err.message);
        if (!res.headersSent)
          sendHtml(
            res,
            500,
            messagePage("Something went wrong", "The development sign-in page failed. Go back and try again.", base),
          );
      });
  });

  return {
    issuer,
    clientId: DEV_CLIENT_ID,
    clientSecret,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      }),
  };
}

/**
 * The routes oidc-provider leaves to us: the sign-in page and its form.
 * @param {{ provider: any, accounts: Map<string, { email: string, name: string }>, base: string }} deps
 * @returns {(req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>}
 */
function createInteractionRoutes({ provider, accounts, base }) {
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/favicon.ico") {
      res.writeHead(204);
      res.end();
      return true;
    }
    const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(url.pathname);
    if (!match) return false;

    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      sendHtml(res, 400, messagePage("This sign-in has expired", "Go back to the dashboard and sign in again.", base));
      return true;
    }
    if (details.uid !== match[1]) {
      sendHtml(res, 400, messagePage("This sign-in has expired", "Go back to the dashboard and sign in again.", base));
      return true;
    }
    const client = await provider.Client.find(details.params.client_id);
    const clientName = client?.clientName ?? "Keygate";

    if (details.prompt.name === "consent") {
      // The only client is our own dashboard: consent is granted without asking.
      const grantId = await grantConsent(provider, details.session?.accountId, details.params.client_id);
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return true;
    }
    if (!match[2] && req.method === "GET") {
      sendHtml(res, 200, renderLoginPage({ uid: details.uid, clientName }));
      return true;
    }
    if (!match[2] || req.method !== "POST") {
      sendHtml(res, 405, messagePage("Not allowed", "Use the sign-in form.", base));
      return true;
    }

    const form = await readForm(req);
    const identity = pickIdentity(form);
    if ("error" in identity) {
      sendHtml(
        res,
        400,
        renderLoginPage({ uid: details.uid, clientName, error: identity.error, values: identity.values }),
      );
      return true;
    }
    const accountId = accountIdFor(identity.email);
    accounts.set(accountId, identity);
    const grantId = await grantConsent(provider, accountId, details.params.client_id);
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId, remember: false }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
    return true;
  };
}

/** @param {any} provider @param {string} accountId @param {string} clientId @returns {Promise<string>} */
async function grantConsent(provider, accountId, clientId) {
  const grant = new provider.Grant({ accountId, clientId });
  grant.addOIDCScope(SCOPE);
  return await grant.save();
}

/**
 * @param {URLSearchParams} form
 * @returns {{ email: string, name: string } | { error: string, values: { name: string, email: string } }}
 */
export function pickIdentity(form) {
  const preset = PRESET_IDENTITIES.find((p) => p.key === form.get("preset"));
  if (preset) return { email: preset.email, name: preset.name };
  const email = (form.get("email") ?? "").trim();
  const name = (form.get("name") ?? "").trim();
  if (email.length > 200 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    return { error: "Type an email address like someone@example.com.", values: { name, email } };
  }
  if (name.length > 100) return { error: "Keep the name under 100 characters.", values: { name, email } };
  return { email: email.toLowerCase(), name: name || email.split("@")[0] };
}

/** @param {http.IncomingMessage} req */
async function readForm(req) {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > MAX_FORM_BYTES) break;
  }
  return new URLSearchParams(body.slice(0, MAX_FORM_BYTES));
}

/** @param {http.ServerResponse} res @param {number} status @param {string} html */
function sendHtml(res, status, html) {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
  });
  res.end(html);
}

/** @param {string} title @param {string} text @param {string} base */
function messagePage(title, text, base) {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(title)}</title></head><body style="font-family:system-ui,sans-serif;margin:0">` +
    `<div style="background:#b91c1c;color:#fff;padding:.9rem 1rem;text-align:center;font-weight:700">DEVELOPMENT ONLY — not a real identity provider</div>` +
    `<main style="max-width:28rem;margin:1.5rem auto;padding:0 1rem"><h1 style="font-size:1.3rem">${escapeHtml(title)}</h1>` +
    `<p>${escapeHtml(text)}</p><p><a href="${escapeHtml(base)}/">Back to the dashboard</a></p></main></body></html>`
  );
}
