/**
 * What the fuzz suite sends: fast-check arbitraries for request plans, a
 * plan's rendering into raw HTTP with the run's real credentials, and a raw
 * sender (node:http, so headers can repeat, paths stay unnormalised and
 * bodies can be any bytes).
 *
 * A plan names credentials and identifiers symbolically ("the session
 * cookie", "the user's own key id"); `render` fills in the secrets of the
 * run, so shrinking keeps a failure meaningful and no secret is ever baked
 * into a plan.
 */
import http from "node:http";
import fc from "fast-check";
import { ADDRESS_HEADERS, addressHeaderValue } from "./addresses.ts";
import { QUERY_NAMES, ROUTES, STATIC_PATHS } from "./routes.ts";

/** The run's real credentials and identifiers. Everything but the ids is a secret. */
export interface RunSecrets {
  sessionToken: string;
  key: string;
  code: string;
  keyId: string;
  jobId: string;
  userId: string;
  orgId: string;
  invitationId: string;
}

type Credential =
  | "right"
  | "session-cookie"
  | "session-bearer"
  | "key-header"
  | "key-bearer"
  | "forged-key"
  | "forged-jwt"
  | "login-cookie"
  | { garbage: string; header: "authorization" | "x-api-key" | "cookie" };

type Param = "own" | "uuid" | { raw: string };

type Body =
  | { kind: "none" }
  | { kind: "json"; value: unknown }
  | { kind: "text"; text: string }
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "nested"; depth: number; open: "[" | '{"a":' }
  | { kind: "oversized"; size: number };

export interface Plan {
  /** Index into ROUTES, or into STATIC_PATHS when `static` is true. */
  target: number;
  static: boolean;
  /**
   * The request a well-behaved client would send (right method, credentials,
   * origin, content type, own identifiers, a body of good values), with only
   * the random query and extra headers on top: it reaches the handlers' depth.
   */
  wellFormed: boolean;
  goodBody: Body;
  /** null: one of the route's own methods (by methodIndex). */
  method: string | null;
  methodIndex: number;
  params: Param[];
  pathSuffix: string;
  credentials: Credential[];
  origin: "none" | "self" | "null" | "evil";
  preflight: boolean;
  query: Array<[string, string]>;
  codeInQuery: boolean;
  headers: Array<[string, string[]]>;
  secretInHeader: boolean;
  contentType: string | null;
  body: Body;
}

// --- arbitraries -----------------------------------------------------------

const printable = (max: number) => fc.stringMatching(new RegExp(`^[\\x20-\\x7e]{0,${max}}$`));
const pathSafe = (max: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,${max}}$`));

const weirdSegments = [
  "%",
  "%zz",
  "%c3%28",
  "%ff",
  "%00",
  "..",
  ".",
  "%2e%2e",
  "%2F",
  "%252F",
  "~",
  "-",
  "null",
  "undefined",
  "00000000-0000-0000-0000-000000000000",
  "ffffffff-ffff-ffff-ffff-ffffffffffff",
  "0",
  "-1",
  "1e400",
  "NaN",
];

const param: fc.Arbitrary<Param> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Param>("own") },
  { weight: 2, arbitrary: fc.constant<Param>("uuid") },
  { weight: 2, arbitrary: fc.constantFrom(...weirdSegments).map((raw): Param => ({ raw })) },
  { weight: 2, arbitrary: pathSafe(60).map((raw): Param => ({ raw })) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((n): Param => ({ raw: "a".repeat(n) })) },
);

const credential: fc.Arbitrary<Credential> = fc.oneof(
  fc.constantFrom<Credential>(
    "session-cookie",
    "session-bearer",
    "key-header",
    "key-bearer",
    "forged-key",
    "forged-jwt",
    "login-cookie",
  ),
  fc.record({
    garbage: fc.oneof(
      printable(200),
      fc.constantFrom("Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "kg_", `kg_${"A".repeat(49)}`, "=;=;", "a.b.c"),
    ),
    header: fc.constantFrom("authorization" as const, "x-api-key" as const, "cookie" as const),
  }),
);

const headerNames = [
  "x-api-key",
  "authorization",
  "cookie",
  "origin",
  "referer",
  "content-type",
  "accept",
  "accept-encoding",
  "x-forwarded-for",
  "x-real-ip",
  "x-client-info",
  "apikey",
  "idempotency-key",
  "access-control-request-method",
  "access-control-request-headers",
  "if-none-match",
  "range",
  "user-agent",
  "x-forwarded-host",
  "forwarded",
];

const headerValue = fc.oneof(
  { weight: 8, arbitrary: printable(120) },
  { weight: 1, arbitrary: fc.stringMatching(/^[\x20-\x7e\x80-\xff]{0,60}$/) },
  { weight: 1, arbitrary: fc.integer({ min: 4_000, max: 40_000 }).map((n) => "x".repeat(n)) },
);

const header: fc.Arbitrary<[string, string[]]> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.tuple(
      fc.oneof(fc.constantFrom(...headerNames), fc.stringMatching(/^x-[a-z0-9-]{1,30}$/)),
      fc.array(headerValue, { minLength: 1, maxLength: 4 }),
    ),
  },
  // The headers that may name the client: forged, malformed, IPv6, IPv4-mapped, many hops, oversized.
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constantFrom(...ADDRESS_HEADERS),
      fc.array(addressHeaderValue, { minLength: 1, maxLength: 3 }),
    ),
  },
);

const queryPair: fc.Arbitrary<[string, string]> = fc.tuple(
  fc.oneof(fc.constantFrom(...QUERY_NAMES), pathSafe(12)),
  fc.oneof(
    fc.string({ maxLength: 40, unit: "grapheme" }).map(encodeURIComponent),
    fc.constantFrom(
      "%",
      "%zz",
      "%c3%28",
      "-1",
      "0",
      "101",
      "1e400",
      "https://evil.example/",
      "//evil.example",
      "/\\evil.example",
      "javascript:alert(1)",
      "null",
    ),
    fc.integer({ min: 2_000, max: 12_000 }).map((n) => "q".repeat(n)),
  ),
);

const specialNumbers = fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -0, 0.5, 1, 365, 366, 86_400, 86_401, -1, 0);
const specialStrings = fc.constantFrom(
  "",
  " ",
  "\u0000",
  "\ud800",
  "\u202e",
  "jobs:read",
  "jobs:write",
  "admin",
  "%00",
  "a".repeat(200),
);

const jsonish: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: specialNumbers },
  { weight: 1, arbitrary: specialStrings },
  { weight: 1, arbitrary: fc.array(fc.oneof(specialStrings, specialNumbers), { maxLength: 40 }) },
);

const rawBodies = [
  '{"expires_in_days": 1e400}',
  '{"expires_in_days":123456789012345678901234567890}',
  '{"grace_seconds": 1e-400}',
  '{"type":"a","payload":{"n":1e400}}',
  '{"type":"a","payload":{"s":"\\u0000"}}',
  '{"type":"a","payload":{"s":"\\ud800"}}',
  "1e400",
  "NaN",
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  '{"name":"a","name":"b"}',
  "\ufeff{}",
  "{",
  "[]",
  "null",
  "true",
  '"str"',
  '{"name":"x"} trailing',
  '{"scopes":"jobs:read"}',
  '{"limit":-1}',
];

const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Body>({ kind: "none" }) },
  { weight: 4, arbitrary: jsonish.map((value): Body => ({ kind: "json", value })) },
  { weight: 2, arbitrary: fc.constantFrom(...rawBodies).map((text): Body => ({ kind: "text", text })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: "binary" }).map((text): Body => ({ kind: "text", text })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes): Body => ({ kind: "bytes", bytes })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        Uint8Array.of(0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d), // {"n":"<invalid UTF-8>"}
        Uint8Array.of(0xff, 0xfe, 0x7b, 0x7d),
        Uint8Array.of(0xed, 0xa0, 0x80), // an encoded surrogate
      )
      .map((bytes): Body => ({ kind: "bytes", bytes })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        depth: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1_000, max: 20_000 })),
        open: fc.constantFrom("[" as const, '{"a":' as const),
      })
      .map((b): Body => ({ kind: "nested", ...b })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 16 * 1024 - 2, max: 80 * 1024 }).map((size): Body => ({ kind: "oversized", size })),
  },
);

/** Values a route accepts, so that a good share of requests gets past validation. */
const GOOD_VALUES: Record<string, unknown[]> = {
  name: ["fuzz key", "x"],
  scopes: [["jobs:read"], ["jobs:read", "jobs:write"], []],
  expires_in_days: [1, 30, 365],
  grace_seconds: [0, 60, 86_400],
  type: ["fuzz.job", "a"],
  payload: [{}, { a: 1 }, { nested: { list: [1, "two", null] } }],
  run_at: [new Date(0).toISOString()],
  max_attempts: [1, 5],
  priority: [0, 10],
  types: [["fuzz.job"]],
  limit: [1, 10],
  lease_seconds: [30],
  result: [{ ok: true }],
  error: ["boom"],
  retry_in_seconds: [1],
  role: ["viewer", "member", "admin", "owner"],
  slug: ["fuzz-org", "a"],
  user_id: [crypto.randomUUID()],
  email: ["fuzz@example.test", "someone@example.test"],
  token: ["t".repeat(43)],
  capabilities: [["users.read"]],
  code: ["c"],
  code_verifier: ["v".repeat(43)],
  grant_type: ["authorization_code"],
};

/** A body of some of a route's own fields, each with a good value. */
function goodBody(fields: readonly string[] | undefined): fc.Arbitrary<Body> {
  if (!fields) return fc.constant<Body>({ kind: "none" });
  return fc
    .subarray([...fields])
    .chain((names) =>
      fc.tuple(...names.map((n) => fc.constantFrom(...(GOOD_VALUES[n] ?? [null])).map((v) => [n, v] as const))),
    )
    .map((pairs): Body => ({ kind: "json", value: Object.fromEntries(pairs) }));
}

/** A body with a route's own fields, each with a good value or one of any type. */
function fieldsBody(fields: readonly string[]): fc.Arbitrary<Body> {
  const value = (field: string) => {
    const good = GOOD_VALUES[field];
    return good
      ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: jsonish })
      : jsonish;
  };
  return fc
    .uniqueArray(
      fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...fields) }, { weight: 1, arbitrary: pathSafe(10) }),
      { maxLength: 5 },
    )
    .chain((names) => fc.tuple(...names.map((n) => value(n).map((v) => [n, v] as const))))
    .map((pairs): Body => ({ kind: "json", value: Object.fromEntries(pairs) }));
}

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "FOO"];

export const planArbitrary: fc.Arbitrary<Plan> = fc
  .oneof(
    { weight: 9, arbitrary: fc.nat(ROUTES.length - 1).map((target) => ({ target, static: false })) },
    { weight: 1, arbitrary: fc.nat(STATIC_PATHS.length - 1).map((target) => ({ target, static: true })) },
  )
  .chain(({ target, static: isStatic }) => {
    const route = isStatic ? undefined : ROUTES[target];
    const paramCount = route ? (route.path.match(/:[a-z]+/g) ?? []).length : 0;
    const routeBody = route?.fields
      ? fc.oneof({ weight: 2, arbitrary: fieldsBody(route.fields) }, { weight: 3, arbitrary: body })
      : body;
    return fc.record({
      target: fc.constant(target),
      static: fc.constant(isStatic),
      wellFormed: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 2, arbitrary: fc.constant(false) }),
      goodBody: goodBody(route?.fields),
      method: fc.oneof(
        { weight: 4, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constantFrom(...methods) },
      ),
      methodIndex: fc.nat(3),
      params: fc.array(param, { minLength: paramCount, maxLength: paramCount }),
      pathSuffix: fc.oneof(
        { weight: 8, arbitrary: fc.constant("") },
        {
          weight: 1,
          arbitrary: fc.constantFrom("/", "//", "/extra", "/%", "/..", "/%2e%2e/health", ";x", "/a/b/c/d/e"),
        },
        { weight: 1, arbitrary: pathSafe(30).map((s) => `/${s}`) },
      ),
      credentials: fc.oneof(
        { weight: 3, arbitrary: fc.constant<Credential[]>(["right"]) },
        { weight: 2, arbitrary: fc.array(credential, { maxLength: 3 }) },
      ),
      origin: fc.constantFrom("none" as const, "self" as const, "self" as const, "null" as const, "evil" as const),
      preflight: fc.boolean(),
      query: fc.array(queryPair, { maxLength: 4 }),
      codeInQuery: fc.boolean(),
      headers: fc.array(header, { maxLength: 4 }),
      secretInHeader: fc.boolean(),
      contentType: fc.oneof(
        { weight: 6, arbitrary: fc.constant("application/json") },
        { weight: 1, arbitrary: fc.constant(null) },
        {
          weight: 2,
          arbitrary: fc.constantFrom(
            "text/plain",
            "application/json; charset=latin1",
            "APPLICATION/JSON",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "*/*",
          ),
        },
      ),
      body: routeBody,
    });
  });

// --- rendering -------------------------------------------------------------

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body: Buffer | null;
}

export interface RenderContext {
  origin: string;
  secrets: RunSecrets;
  /** A well-formed key nobody owns, and a JWT signed by a key outside the JWKS. */
  forgedKey: string;
  forgedJwt: string;
}

function bodyBytes(b: Body): Buffer | null {
  switch (b.kind) {
    case "none":
      return null;
    case "json":
      return Buffer.from(JSON.stringify(b.value) ?? "null", "utf8");
    case "text":
      return Buffer.from(b.text, "utf8");
    case "bytes":
      return Buffer.from(b.bytes);
    case "nested":
      return Buffer.from(`${b.open.repeat(b.depth)}1${(b.open === "[" ? "]" : "}").repeat(b.depth)}`, "utf8");
    case "oversized":
      return Buffer.from(`{"name":"${"n".repeat(Math.max(0, b.size - 11))}"}`, "utf8");
  }
}

export function render(original: Plan, ctx: RenderContext): RawRequest {
  const { secrets } = ctx;
  const plan: Plan = !original.wellFormed
    ? original
    : {
        ...original,
        method: null,
        params: original.params.map(() => "own" as const),
        pathSuffix: "",
        credentials: ["right"],
        origin: "self",
        codeInQuery: false,
        contentType: "application/json",
        body: original.goodBody,
      };
  let path: string;
  let method: string;
  if (plan.static) {
    path = STATIC_PATHS[plan.target];
    method = plan.method ?? "GET";
  } else {
    const route = ROUTES[plan.target];
    let i = 0;
    path =
      "/functions/v1/" +
      route.path.replace(/:([a-z]+)/g, (_m, name: string) => {
        const p = plan.params[i++];
        if (p === "uuid") return crypto.randomUUID();
        if (p !== "own") return p.raw;
        if (name === "provider") return "oidc";
        if (name === "key") return secrets.keyId;
        if (name === "job") return secrets.jobId;
        if (name === "org") return secrets.orgId;
        if (name === "invitation") return secrets.invitationId;
        return secrets.userId;
      });
    method = plan.method ?? route.methods[plan.methodIndex % route.methods.length];
  }
  path += plan.pathSuffix;
  const query = [...plan.query.map(([k, v]) => `${k}=${v}`)];
  if (plan.codeInQuery) query.push(`code=${secrets.code}`, "state=fuzz-state");
  if (query.length > 0) path += `?${query.join("&")}`;

  const headers: Record<string, string[]> = {};
  const add = (name: string, value: string) => {
    headers[name] ??= [];
    headers[name].push(value);
  };
  const cookies: string[] = [];
  const auth = plan.static ? "none" : ROUTES[plan.target].auth;
  for (const c of plan.credentials) {
    if (c === "right") {
      if (auth === "session") cookies.push(`kg_session=${secrets.sessionToken}`);
      if (auth === "key") add("x-api-key", secrets.key);
    } else if (c === "session-cookie") cookies.push(`kg_session=${secrets.sessionToken}`);
    else if (c === "session-bearer") add("authorization", `Bearer ${secrets.sessionToken}`);
    else if (c === "key-header") add("x-api-key", secrets.key);
    else if (c === "key-bearer") add("authorization", `Bearer ${secrets.key}`);
    else if (c === "forged-key") add("x-api-key", ctx.forgedKey);
    else if (c === "forged-jwt") add("authorization", `Bearer ${ctx.forgedJwt}`);
    else if (c === "login-cookie") cookies.push(`kg_login=${secrets.code}`);
    else if (c.header === "cookie") cookies.push(c.garbage);
    else add(c.header, c.garbage);
  }
  if (cookies.length > 0) add("cookie", cookies.join("; "));
  if (plan.origin === "self") add("origin", ctx.origin);
  else if (plan.origin === "null") add("origin", "null");
  else if (plan.origin === "evil") add("origin", "https://evil.example");
  if (plan.preflight && method === "OPTIONS") add("access-control-request-method", "POST");
  for (const [name, values] of plan.headers) for (const v of values) add(name, v);
  if (plan.secretInHeader) add("x-fuzz-echo", `${secrets.key} ${secrets.sessionToken} ${secrets.code}`);

  const bytes = method === "GET" || method === "HEAD" ? null : bodyBytes(plan.body);
  if (bytes && plan.contentType) add("content-type", plan.contentType);
  return {
    method,
    path,
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.length === 1 ? v[0] : v])),
    body: bytes,
  };
}

// --- sending ---------------------------------------------------------------

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Sends one request on its own connection; rejects on a connection error or after `timeoutMs`. */
export function send(base: URL, req: RawRequest, timeoutMs = 15_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const out = http.request(
      {
        host: base.hostname,
        port: base.port,
        method: req.method,
        path: req.path,
        headers: req.headers,
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    out.on("timeout", () => out.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    out.on("error", reject);
    out.end(req.body ?? undefined);
  });
}
