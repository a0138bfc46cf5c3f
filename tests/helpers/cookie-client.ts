/**
 * A fetch client that keeps cookies like a browser does (by host, not port;
 * honouring Path, Max-Age and Expires) and never follows redirects by itself,
 * so tests can walk a sign-in one hop at a time.
 */
interface StoredCookie {
  value: string;
  path: string;
  expires: number;
}

export type Handler = (req: Request) => Promise<Response>;

export class CookieClient {
  private readonly jar = new Map<string, Map<string, StoredCookie>>();

  /** `inProcess` maps an origin to a handler that answers its requests without a network. */
  constructor(private readonly inProcess: Record<string, Handler> = {}) {}

  /** fetch with this client's cookies; redirects are returned, not followed. */
  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url);
    const headers = new Headers(init.headers);
    const cookie = this.cookieHeader(target);
    if (cookie) headers.set("cookie", cookie);
    const handler = this.inProcess[target.origin];
    const res = handler
      ? await handler(new Request(target, { ...init, headers }))
      : await fetch(target, { ...init, headers, redirect: "manual" });
    this.store(target, res.headers.getSetCookie());
    return res;
  }

  /**
   * Follows redirects from `url` until one points at a URL for which `stop`
   * returns true (that URL is returned, not fetched) or a non-redirect answer
   * comes (that response is returned).
   */
  async follow(url: string | URL, stop: (next: URL) => boolean, max = 10): Promise<URL | Response> {
    let current = new URL(url);
    for (let hop = 0; hop < max; hop++) {
      const res = await this.fetch(current);
      const location = res.headers.get("location");
      if (res.status < 300 || res.status >= 400 || !location) return res;
      await res.body?.cancel();
      current = new URL(location, current);
      if (stop(current)) return current;
    }
    throw new Error(`more than ${max} redirects from ${url}`);
  }

  /** The value of a cookie that would be sent to `url`. */
  get(url: string | URL, name: string): string | undefined {
    return this.matching(new URL(url)).get(name);
  }

  set(url: string | URL, name: string, value: string, path = "/"): void {
    this.bucket(new URL(url).hostname).set(name, { value, path, expires: Infinity });
  }

  delete(url: string | URL, name: string): void {
    this.bucket(new URL(url).hostname).delete(name);
  }

  private bucket(host: string): Map<string, StoredCookie> {
    let bucket = this.jar.get(host);
    if (!bucket) {
      bucket = new Map();
      this.jar.set(host, bucket);
    }
    return bucket;
  }

  private matching(url: URL): Map<string, string> {
    const out = new Map<string, string>();
    const now = Date.now();
    for (const [name, c] of this.bucket(url.hostname)) {
      if (c.expires <= now) continue;
      const path = c.path.endsWith("/") ? c.path : `${c.path}/`;
      if (url.pathname === c.path || url.pathname.startsWith(path)) out.set(name, c.value);
    }
    return out;
  }

  private cookieHeader(url: URL): string {
    return [...this.matching(url)].map(([n, v]) => `${n}=${v}`).join("; ");
  }

  private store(url: URL, setCookies: string[]): void {
    const bucket = this.bucket(url.hostname);
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = url.pathname.replace(/\/[^/]*$/, "") || "/";
      let expires = Infinity;
      for (const attr of attrs) {
        const [k, v = ""] = attr.split("=");
        const key = k.trim().toLowerCase();
        if (key === "path") path = v.trim() || "/";
        if (key === "max-age") expires = Date.now() + Number(v) * 1000;
        if (key === "expires" && expires === Infinity) expires = Date.parse(v.trim());
      }
      if (expires <= Date.now()) bucket.delete(name);
      else bucket.set(name, { value, path, expires });
    }
  }
}
