// @ts-check
/**
 * The Keygate dashboard: sign in, create API keys, see, revoke and rotate
 * them. Plain DOM, no framework, no build. A new key lives only in the page
 * (never in storage) and is cleared when dismissed or on sign-out.
 */
import { ApiError, api, functionsBase } from "./api.js";
import { byId, h } from "./dom.js";
import { showJobs } from "./jobs.js";
import { keyRow } from "./key-row.js";
import { finishSignIn, forgetSession, loginUrls, mayHaveSession, signOut } from "./sign-in.js";
import { curlExamples, describeError, describeLoginError, initials } from "./words.js";

/** @typedef {import("./words.js").KeySummary} KeySummary */
/** @typedef {{ id: string, email: string, name: string | null, image_url: string | null, role: string }} User */

const $ = {
  loading: byId("loading", HTMLElement),
  signedOut: byId("signed-out", HTMLElement),
  signedIn: byId("signed-in", HTMLElement),
  signInTitle: byId("sign-in-title", HTMLElement),
  providers: byId("providers", HTMLUListElement),
  noProviders: byId("no-providers", HTMLElement),
  devNote: byId("dev-provider-note", HTMLElement),
  account: byId("account", HTMLElement),
  avatarImg: byId("avatar-img", HTMLImageElement),
  avatarInitials: byId("avatar-initials", HTMLElement),
  userName: byId("user-name", HTMLElement),
  userEmail: byId("user-email", HTMLElement),
  signOut: byId("sign-out", HTMLButtonElement),
  status: byId("status", HTMLElement),
  alert: byId("alert", HTMLElement),
  alertText: byId("alert-text", HTMLElement),
  alertClose: byId("alert-close", HTMLButtonElement),
  createForm: byId("create-form", HTMLFormElement),
  createSubmit: byId("create-submit", HTMLButtonElement),
  keyName: byId("key-name", HTMLInputElement),
  keyOwnerField: byId("key-owner-field", HTMLElement),
  keyOwner: byId("key-owner", HTMLSelectElement),
  keysTitle: byId("keys-title", HTMLElement),
  keyExpiry: byId("key-expiry", HTMLSelectElement),
  newKey: byId("new-key", HTMLElement),
  newKeyTitle: byId("new-key-title", HTMLElement),
  newKeyValue: byId("new-key-value", HTMLInputElement),
  copyKey: byId("copy-key", HTMLButtonElement),
  curlList: byId("curl-list", HTMLElement),
  curlSubmit: byId("curl-submit", HTMLElement),
  dismissKey: byId("dismiss-key", HTMLButtonElement),
  keysLoading: byId("keys-loading", HTMLElement),
  keysEmpty: byId("keys-empty", HTMLElement),
  keysTable: byId("keys-table", HTMLTableElement),
  keysBody: byId("keys-body", HTMLTableSectionElement),
  confirm: byId("confirm", HTMLDialogElement),
  confirmTitle: byId("confirm-title", HTMLElement),
  confirmText: byId("confirm-text", HTMLElement),
  confirmOk: byId("confirm-ok", HTMLButtonElement),
  graceField: byId("grace-field", HTMLElement),
  grace: byId("grace", HTMLSelectElement),
};

// ---------------------------------------------------------------- messages

/** @param {string} text */
function showError(text) {
  $.alertText.textContent = text;
  $.alert.hidden = false;
}

function clearError() {
  $.alert.hidden = true;
  $.alertText.textContent = "";
}

/** @param {string} text */
function announce(text) {
  $.status.textContent = "";
  // A fresh text node so the same sentence twice is announced twice.
  setTimeout(() => {
    $.status.textContent = text;
  }, 50);
}

/**
 * Shows an API failure in words; a 401 means the session ended.
 * @param {unknown} err
 */
function handleApiError(err) {
  if (err instanceof ApiError) {
    if (err.status === 401) {
      forgetSession();
      showSignedOut();
      showError(describeError("unauthorized"));
      return;
    }
    showError(describeError(err.code, err.message));
    return;
  }
  console.error(err);
  showError(describeError(undefined));
}

// ---------------------------------------------------------------- states

/** @param {"loading" | "signed-out" | "signed-in"} state */
function setState(state) {
  $.loading.hidden = state !== "loading";
  $.signedOut.hidden = state !== "signed-out";
  $.signedIn.hidden = state !== "signed-in";
  $.account.hidden = state !== "signed-in";
}

async function showSignedOut() {
  hideNewKey();
  setState("signed-out");
  $.keyOwner.replaceChildren(h("option", { value: "" }, ["Personal"]));
  $.keyOwnerField.hidden = true;
  document.dispatchEvent(new Event("keygate:signed-out")); // activity.js, admin.js
  $.providers.replaceChildren(h("li", { class: "muted" }, ["Loading sign-in options…"]));
  try {
    /** @type {{ providers: { id: string, name: string }[] }} */
    const { providers } = await api("auth/providers");
    const loginUrl = await loginUrls();
    $.providers.replaceChildren(
      ...providers.map((p) =>
        h("li", {}, [
          h(
            "a",
            {
              class: "button primary provider",
              href: loginUrl(p.id),
            },
            [/sign[- ]in/i.test(p.name) ? p.name : `Sign in with ${p.name}`],
          ),
        ]),
      ),
    );
    $.noProviders.hidden = providers.length > 0;
    $.devNote.hidden = !providers.some((p) => /development/i.test(p.name));
  } catch (err) {
    $.providers.replaceChildren();
    handleApiError(err);
  }
}

/** @param {User} user */
function showSignedIn(user) {
  $.userName.textContent = user.name ?? user.email;
  $.userEmail.textContent = user.email;
  $.avatarInitials.textContent = initials(user.name, user.email);
  const picture = user.image_url ?? "";
  if (/^(https:|data:image\/)/.test(picture) || (/^http:/.test(picture) && isLoopbackPage())) {
    $.avatarImg.src = picture;
    $.avatarImg.hidden = false;
  } else {
    $.avatarImg.removeAttribute("src");
    $.avatarImg.hidden = true;
  }
  setState("signed-in");
  loadKeys();
  loadOwners().catch(handleApiError);
  showJobs(byId("jobs-view", HTMLElement), handleApiError);
  document.dispatchEvent(new CustomEvent("keygate:signed-in", { detail: user })); // activity.js, admin.js
}

function isLoopbackPage() {
  return ["127.0.0.1", "localhost", "[::1]"].includes(location.hostname);
}

$.avatarImg.addEventListener("error", () => {
  $.avatarImg.hidden = true;
});

// ---------------------------------------------------------------- keys

let keysRequest = 0;

/** The owner the key card shows and creates for: "" for the signed-in user, else an organization's id. */
const keyOwner = () => $.keyOwner.value;

/**
 * The owner switcher: "Personal" and each organization the user belongs to
 * (GET /orgs), shown only when there is one; keeps the choice when it still exists.
 */
async function loadOwners() {
  /** @type {{ orgs: { id: string, name: string, deactivated_at: string | null }[] }} */
  const { orgs } = await api("orgs");
  const chosen = keyOwner();
  const options = orgs.map((org) =>
    h("option", { value: org.id }, [`${org.name}${org.deactivated_at ? " (deactivated)" : ""}`]),
  );
  $.keyOwner.replaceChildren(h("option", { value: "" }, ["Personal"]), ...options);
  $.keyOwner.value = orgs.some((org) => org.id === chosen) ? chosen : "";
  $.keyOwnerField.hidden = orgs.length === 0;
  if ($.keyOwner.value !== chosen) await loadKeys();
}

$.keyOwner.addEventListener("change", () => {
  hideNewKey();
  loadKeys();
});
// orgs.js: an organization was created, joined or left.
document.addEventListener("keygate:orgs-changed", () => loadOwners().catch(handleApiError));

async function loadKeys() {
  const request = ++keysRequest;
  const owner = keyOwner();
  $.keysLoading.hidden = false;
  $.keysTitle.textContent = owner
    ? `${$.keyOwner.selectedOptions[0]?.textContent ?? "Organization"}: API keys`
    : "Your API keys";
  try {
    /** @type {{ keys: KeySummary[] }} */
    const { keys } = await api(owner ? `api-keys?org_id=${encodeURIComponent(owner)}` : "api-keys");
    if (request !== keysRequest) return;
    renderKeys(keys);
    document.dispatchEvent(new Event("keygate:keys-loaded")); // activity.js
  } catch (err) {
    handleApiError(err);
  } finally {
    if (request === keysRequest) $.keysLoading.hidden = true;
  }
}

/** @param {KeySummary[]} keys */
function renderKeys(keys) {
  const now = Date.now();
  $.keysEmpty.hidden = keys.length > 0;
  $.keysTable.hidden = keys.length === 0;
  $.keysBody.replaceChildren(...keys.map((key) => keyRow(key, now, { onRotate: rotateKey, onRevoke: revokeKey })));
}

/**
 * Asks in a modal dialog; resolves true when confirmed.
 * @param {{ title: string, text: string, confirmLabel: string, grace?: boolean }} options
 * @returns {Promise<boolean>}
 */
function confirmAction({ title, text, confirmLabel, grace = false }) {
  $.confirmTitle.textContent = title;
  $.confirmText.textContent = text;
  $.confirmOk.textContent = confirmLabel;
  $.graceField.hidden = !grace;
  $.confirm.returnValue = "";
  const opener = document.activeElement;
  return new Promise((resolve) => {
    $.confirm.addEventListener(
      "close",
      () => {
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
        resolve($.confirm.returnValue === "confirm");
      },
      { once: true },
    );
    $.confirm.showModal();
  });
}

/** @param {KeySummary} key */
async function revokeKey(key) {
  const ok = await confirmAction({
    title: `Revoke “${key.name}”?`,
    text: `Anything using the key starting ${key.start} stops working at once. This can't be undone.`,
    confirmLabel: "Revoke key",
  });
  if (!ok) return;
  clearError();
  try {
    await api(`api-keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
    announce(`Key ${key.name} revoked.`);
  } catch (err) {
    handleApiError(err);
  }
  await loadKeys();
}

/** @param {KeySummary} key */
async function rotateKey(key) {
  const ok = await confirmAction({
    title: `Rotate “${key.name}”?`,
    text: `A new key with the same name and scopes replaces the key starting ${key.start}. Update your jobs with the new key before the old one stops working.`,
    confirmLabel: "Rotate key",
    grace: true,
  });
  if (!ok) return;
  clearError();
  try {
    const created = await api(`api-keys/${encodeURIComponent(key.id)}/rotate`, {
      method: "POST",
      body: { grace_seconds: Number($.grace.value) },
    });
    showNewKey(created, "Your rotated API key");
  } catch (err) {
    handleApiError(err);
  }
  await loadKeys();
}

$.createForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  const form = new FormData($.createForm);
  /** @type {{ name: string, scopes: string[], expires_in_days?: number, org_id?: string }} */
  const body = {
    name: String(form.get("name") ?? "").trim(),
    scopes: form.getAll("scopes").map(String),
  };
  if (keyOwner()) body.org_id = keyOwner();
  const days = String(form.get("expires_in_days") ?? "");
  if (days) body.expires_in_days = Number(days);
  $.createSubmit.disabled = true;
  $.createSubmit.textContent = "Creating…";
  try {
    const created = await api("api-keys", { method: "POST", body });
    const owner = keyOwner();
    $.createForm.reset();
    $.keyOwner.value = owner;
    showNewKey(created, "Your new API key");
    await loadKeys();
  } catch (err) {
    handleApiError(err);
  } finally {
    $.createSubmit.disabled = false;
    $.createSubmit.textContent = "Create API key";
  }
});

// ---------------------------------------------------------------- the new key, shown once

/**
 * @param {{ key: string, name: string }} created
 * @param {string} title
 */
function showNewKey(created, title) {
  const examples = curlExamples(functionsBase, created.key);
  $.newKeyTitle.textContent = `${title}: ${created.name}`;
  $.newKeyValue.value = created.key;
  $.curlList.textContent = examples.list;
  $.curlSubmit.textContent = examples.submit;
  $.newKey.hidden = false;
  $.newKeyTitle.focus();
}

function hideNewKey() {
  $.newKeyValue.value = "";
  $.curlList.textContent = "";
  $.curlSubmit.textContent = "";
  $.newKey.hidden = true;
}

/**
 * @param {string} text
 * @param {HTMLElement} source what to select when the clipboard is refused
 */
async function copy(text, source) {
  try {
    await navigator.clipboard.writeText(text);
    announce("Copied to the clipboard.");
  } catch {
    if (source instanceof HTMLInputElement) source.select();
    else getSelection()?.selectAllChildren(source);
    announce("Copying was blocked: the text is selected, press Ctrl+C (or ⌘C) to copy it.");
  }
}

$.copyKey.addEventListener("click", () => copy($.newKeyValue.value, $.newKeyValue));
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", () => {
    const source = byId(/** @type {string} */ (button.getAttribute("data-copy")), HTMLElement);
    copy(source.textContent ?? "", source);
  });
}
$.dismissKey.addEventListener("click", () => {
  hideNewKey();
  announce("The key is hidden.");
  $.keyName.focus();
});

// ---------------------------------------------------------------- session

$.signOut.addEventListener("click", async () => {
  clearError();
  $.signOut.disabled = true;
  try {
    await signOut();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) {
      handleApiError(err);
      return;
    }
    forgetSession();
  } finally {
    $.signOut.disabled = false;
  }
  await showSignedOut();
  announce("You are signed out.");
  $.signInTitle.focus();
});

$.alertClose.addEventListener("click", clearError);

/**
 * The end of a sign-in: a failed one comes back with an error code (said in
 * words, once), a cross-site one with a code to exchange for a session.
 */
async function loginResultFromUrl() {
  try {
    const code = await finishSignIn();
    if (code) showError(describeLoginError(code));
  } catch (err) {
    handleApiError(err);
  }
}

async function start() {
  setState("loading");
  await loginResultFromUrl();
  /** @type {User | undefined} */
  let user;
  try {
    if (mayHaveSession()) user = await api("auth/session");
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) handleApiError(err);
    else forgetSession();
  }
  if (user) showSignedIn(user);
  else await showSignedOut();
}

start();
