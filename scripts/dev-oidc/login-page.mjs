// @ts-check
// The development provider's sign-in page: pick a preset test identity or type
// one. Plain HTML, no script, escaped values; it says loudly what it is.

/** Preset identities shown as one-click buttons. */
export const PRESET_IDENTITIES = [
  { key: "ada", name: "Ada Lovelace", email: "ada@example.com" },
  { key: "grace", name: "Grace Hopper", email: "grace@example.com" },
  { key: "alan", name: "Alan Turing", email: "alan@example.com" },
];

/** @param {string} value */
export function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
  :root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  body { margin: 0; background: #f4f4f5; color: #18181b; line-height: 1.5; }
  .banner { background: #b91c1c; color: #fff; padding: 0.9rem 1rem; text-align: center; font-weight: 700; font-size: 1.05rem; }
  .banner span { display: block; font-weight: 400; font-size: 0.95rem; }
  main { max-width: 28rem; margin: 1.5rem auto; padding: 0 1rem; }
  .card { background: #fff; border: 1px solid #d4d4d8; border-radius: 0.75rem; padding: 1.25rem; margin-bottom: 1rem; }
  h1 { font-size: 1.3rem; margin: 0 0 0.25rem; }
  h2 { font-size: 1.05rem; margin: 0 0 0.75rem; }
  p { margin: 0 0 1rem; }
  ul { list-style: none; padding: 0; margin: 0; display: grid; gap: 0.5rem; }
  button { font: inherit; cursor: pointer; border-radius: 0.5rem; padding: 0.6rem 0.9rem; }
  .preset { width: 100%; text-align: left; background: #fff; border: 1px solid #a1a1aa; color: #18181b; }
  .preset:hover { background: #f4f4f5; }
  .preset small { display: block; color: #52525b; }
  .primary { background: #1d4ed8; color: #fff; border: 1px solid #1d4ed8; font-weight: 600; width: 100%; }
  label { display: block; font-weight: 600; margin: 0.5rem 0 0.25rem; }
  input { font: inherit; width: 100%; box-sizing: border-box; padding: 0.55rem 0.7rem; border: 1px solid #71717a; border-radius: 0.5rem; margin-bottom: 0.5rem; }
  :focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
  .error { color: #b91c1c; font-weight: 600; }
`;

/**
 * @param {{ uid: string, clientName: string, error?: string, values?: { name?: string, email?: string } }} options
 */
export function renderLoginPage({ uid, clientName, error, values = {} }) {
  const action = `/interaction/${encodeURIComponent(uid)}/login`;
  const presets = PRESET_IDENTITIES.map(
    (p) => `
        <li><button class="preset" type="submit" name="preset" value="${escapeHtml(p.key)}" formnovalidate>
          Sign in as ${escapeHtml(p.name)}<small>${escapeHtml(p.email)}</small>
        </button></li>`,
  ).join("");
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Development sign-in (not a real identity provider)</title>
  <style>${STYLE}</style>
</head>
<body>
  <div class="banner" role="alert">DEVELOPMENT ONLY — not a real identity provider
    <span>Anyone can sign in here as anyone. Configure a real provider before you deploy.</span></div>
  <main>
    <div class="card">
      <h1>Sign in to ${escapeHtml(clientName)}</h1>
      <p>Choose a test identity. No password is asked: this provider runs on your machine for trying Keygate out.</p>
      ${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ""}
      <form method="post" action="${escapeHtml(action)}">
        <h2>Test identities</h2>
        <ul>${presets}
        </ul>
      </form>
    </div>
    <div class="card">
      <form method="post" action="${escapeHtml(action)}">
        <h2>Or type one</h2>
        <label for="name">Name</label>
        <input id="name" name="name" autocomplete="name" maxlength="100" value="${escapeHtml(values.name ?? "")}">
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="email" required maxlength="200" value="${escapeHtml(values.email ?? "")}">
        <button class="primary" type="submit">Sign in as this person</button>
      </form>
    </div>
  </main>
</body>
</html>`;
}
