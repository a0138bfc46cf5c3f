/**
 * Random JSON in a job's payload, progress or result, through the real
 * server: whatever is accepted is stored and returned with the value sent,
 * and whatever is refused is a 400 naming the field, with nothing written.
 * The bodies are raw text: numbers in every spelling (out of range, more
 * digits than a float keeps, -0), escapes (\u0000, half a surrogate pair),
 * `__proto__` and `constructor` keys, repeated keys.
 *
 * Postgres is the judge of exactness: a text is storable when jsonb takes it
 * and equals, number for number (jsonb compares numerics exactly), the JSON
 * that JavaScript writes back after parsing it; and no object repeats a key.
 *
 * FUZZ_RUNS sets the number of bodies (default 150); `npm run fuzz` runs a
 * larger campaign. FUZZ_SEED replays a run.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { FIELD_CAPS } from "../../functions/_shared/handlers/jobs/schemas.ts";
import { MAX_BODY_BYTES } from "../../functions/_shared/http/response.ts";
import type { Call } from "../helpers/call.ts";
import { canonical } from "../helpers/canonical-json.ts";
import { type KeyHolder, userWithKey } from "../helpers/keys.ts";
import { useStack } from "../helpers/stack.ts";
import { jobsClient } from "../jobs/helpers.ts";

const RUNS = Number(process.env.FUZZ_RUNS ?? "150");
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

/** JSON text, and whether some object in it repeats a key. */
interface Json {
  text: string;
  repeatsKey: boolean;
}

const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
const spelledNumber = fc
  .tuple(
    fc.constantFrom("", "-"),
    fc.oneof(
      fc.constant("0"),
      fc.tuple(fc.constantFrom(..."123456789"), digits(0, 22)).map(([a, b]) => a + b),
    ),
    fc.option(
      digits(1, 22).map((d) => `.${d}`),
      { nil: "" },
    ),
    fc.option(
      fc
        .tuple(fc.constantFrom("e", "E"), fc.constantFrom("", "+", "-"), fc.integer({ min: 0, max: 400 }))
        .map((e) => e.join("")),
      { nil: "" },
    ),
  )
  .map((parts) => parts.join(""));

const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  spelledNumber,
  fc.constantFrom(
    "1e400",
    "-1e400",
    "9007199254740993",
    "1.00000000000000000001",
    "1e-400",
    "1.7976931348623159e308",
    "1e21",
    "0.1",
    "1.10",
    "1.5e3",
    "-0",
    "-0.0e5",
    "5e-324",
    "9007199254740991",
  ),
);

/** Strings of any code points, half surrogate pairs among them now and then. */
const anyString = fc.string({
  unit: fc.oneof(
    { weight: 8, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
    { weight: 1, arbitrary: fc.constant("\u0000") },
  ),
  maxLength: 10,
});
const escapedEverywhere = (s: string) =>
  `"${[...Array(s.length).keys()].map((i) => `\\u${s.charCodeAt(i).toString(16).padStart(4, "0")}`).join("")}"`;

const stringText = fc.oneof(
  anyString.map((s) => JSON.stringify(s)),
  anyString.map(escapedEverywhere),
  fc.constantFrom('"__proto__"', '"constructor"', '"\\u0000"', '"\\ud800"', '"x\\udc00"', '"\\ud83d\\ude00"', '"\\/"'),
);

const keyText = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('"a"', '"\\u0061"', '"__proto__"', '"constructor"', '"prototype"', '""') },
  { weight: 1, arbitrary: stringText },
);

const space = fc.constantFrom("", " ", "\n  ");

const { value: jsonValue, object: jsonObject } = fc.letrec<{ value: Json; object: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    numberText.map((text) => ({ text, repeatsKey: false })),
    stringText.map((text) => ({ text, repeatsKey: false })),
    fc.constantFrom("true", "false", "null").map((text) => ({ text, repeatsKey: false })),
    fc.tuple(fc.array(tie("value"), { maxLength: 4 }), space).map(([items, ws]) => ({
      text: `[${items.map((i) => i.text).join(`,${ws}`)}]`,
      repeatsKey: items.some((i) => i.repeatsKey),
    })),
    tie("object"),
  ),
  object: fc.tuple(fc.array(fc.tuple(keyText, tie("value")), { maxLength: 4 }), space).map(([entries, ws]) => {
    const keys = entries.map(([key]) => JSON.parse(key) as string);
    return {
      text: `{${entries.map(([key, v]) => `${key}:${ws}${v.text}`).join(`,${ws}`)}}`,
      repeatsKey: new Set(keys).size < keys.length || entries.some(([, v]) => v.repeatsKey),
    };
  }),
}));

type Field = "payload" | "progress" | "result";
const caseArbitrary = fc.oneof(
  jsonObject.map((json) => ({ field: "payload" as Field, json })),
  fc.tuple(fc.constantFrom<Field>("progress", "result"), jsonValue).map(([field, json]) => ({ field, json })),
);

const bytes = (text: string) => Buffer.byteLength(text, "utf8");

let jobs: ReturnType<typeof jobsClient>;
let owner: KeyHolder;
let progressJob: string;
const tally = new Map<string, number>();

const stack = useStack({ env: { JOBS_CREATE_PER_MINUTE: "1000000", JOBS_MAX_UNFINISHED: "1000000" } });
beforeAll(async () => {
  jobs = jobsClient(stack.url);
  owner = await userWithKey(stack.admin);
  progressJob = await runningJob("fuzz.progress");
});

const send = (path: string, text: string) =>
  jobs(path, owner.key, { method: "POST", body: text, headers: { "content-type": "application/json" } });

/** A new job of the owner's, claimed by the owner's key for an hour. */
async function runningJob(type: string): Promise<string> {
  const { rows } = await stack.admin.query("insert into public.jobs (user_id, type) values ($1, $2) returning id", [
    owner.userId,
    type,
  ]);
  const claimed = await send("jobs/claim", JSON.stringify({ types: [type], lease_seconds: 3600 }));
  expect(claimed.body.jobs.map((j: { id: string }) => j.id)).toEqual([rows[0].id]);
  return rows[0].id;
}

/** Whether jsonb takes `text` and equals the JSON JavaScript writes back from it, number for number. */
async function storable(text: string): Promise<boolean> {
  try {
    const { rows } = await stack.admin.query("select $1::jsonb = $2::jsonb as same", [
      text,
      JSON.stringify(JSON.parse(text)),
    ]);
    return rows[0].same;
  } catch (err) {
    // Data exceptions only (\u0000, half a surrogate pair); anything else is the test's own failure.
    if (/^22/.test((err as { code?: string }).code ?? "")) return false;
    throw err;
  }
}

/** The status the jobs routes owe `text` in `field`: the order in which readJson, the schema and the caps look. */
async function expectedStatus(field: Field, json: Json, body: string): Promise<number> {
  if (bytes(body) > MAX_BODY_BYTES) return 413;
  if (json.repeatsKey || !(await storable(json.text))) return 400;
  const value = JSON.parse(json.text);
  if (value === null) return 400;
  if (bytes(JSON.stringify(value)) > FIELD_CAPS[field]) return 413;
  return field === "payload" ? 202 : 200;
}

async function row(id: string): Promise<Record<string, unknown>> {
  const { rows } = await stack.admin.query(
    "select status, progress::text as progress, result::text as result, updated_at from public.jobs where id = $1",
    [id],
  );
  return rows[0];
}

const payloadJobs = async () =>
  Number(
    (
      await stack.admin.query("select count(*) from public.jobs where user_id = $1 and type = 'fuzz.payload'", [
        owner.userId,
      ])
    ).rows[0].count,
  );

/** The job's stored `field` has the value of `sent`, and so has what the route returned. */
async function holdsExactly(id: string, field: Field, sent: string, returned: unknown): Promise<void> {
  const { rows } = await stack.admin.query(
    `select ${field} = $2::jsonb as stored, $2::jsonb = $3::jsonb as returned from public.jobs where id = $1`,
    [id, sent, JSON.stringify(returned)],
  );
  expect(rows[0], sent).toEqual({ stored: true, returned: true });
  expect(canonical(returned), sent).toBe(canonical(JSON.parse(sent)));
}

async function check(field: Field, json: Json): Promise<void> {
  if (field === "payload") {
    const body = `{"type": "fuzz.payload", "payload": ${json.text}}`;
    const expected = await expectedStatus(field, json, body);
    const before = await payloadJobs();
    const res = await send("jobs", body);
    tally.set(`${field} ${res.status}`, (tally.get(`${field} ${res.status}`) ?? 0) + 1);
    expect(res.status, `${json.text} -> ${JSON.stringify(res.body)}`).toBe(expected);
    if (res.status !== 202) {
      expectRefusal(res, field);
      expect(await payloadJobs()).toBe(before);
      return;
    }
    const read = await jobs(`jobs/${res.body.id}`, owner.key);
    await holdsExactly(res.body.id, field, json.text, read.body.payload);
    return;
  }

  const id = field === "progress" ? progressJob : await runningJob("fuzz.result");
  const route = field === "progress" ? "heartbeat" : "complete";
  const body = `{"${field}": ${json.text}}`;
  const expected = await expectedStatus(field, json, body);
  const before = await row(id);
  const res = await send(`jobs/${id}/${route}`, body);
  tally.set(`${field} ${res.status}`, (tally.get(`${field} ${res.status}`) ?? 0) + 1);
  expect(res.status, `${json.text} -> ${JSON.stringify(res.body)}`).toBe(expected);
  if (res.status !== 200) {
    expectRefusal(res, field);
    expect(await row(id)).toEqual(before);
    return;
  }
  await holdsExactly(id, field, json.text, res.body[field]);
  const read = await jobs(`jobs/${id}`, owner.key);
  expect(canonical(read.body[field])).toBe(canonical(res.body[field]));
}

function expectRefusal(res: Call, field: Field): void {
  if (res.status === 413) {
    expect(res.body.error.code).toBe("payload_too_large");
    return;
  }
  expect(res.body.error.code).toBe("validation_failed");
  expect(res.body.error.message.startsWith(field), res.body.error.message).toBe(true);
}

describe("random JSON in a job's payload, progress and result", () => {
  it(
    `stores ${RUNS} bodies with the value sent, or refuses them with 400 naming the field`,
    async () => {
      await fc.assert(
        fc.asyncProperty(caseArbitrary, async ({ field, json }) => await check(field, json)),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
      if (process.env.FUZZ_VERBOSE)
        console.log(
          [...tally]
            .sort()
            .map(([k, n]) => `${k}: ${n}`)
            .join("\n"),
        );
      // The run must have reached both sides of the rule, for every field.
      for (const field of ["payload", "progress", "result"]) {
        const accepted = tally.get(`${field} ${field === "payload" ? 202 : 200}`) ?? 0;
        const refused = tally.get(`${field} 400`) ?? 0;
        if (RUNS >= 100) expect([field, accepted > 0, refused > 0]).toEqual([field, true, true]);
      }
    },
    Math.max(60_000, RUNS * 1_000),
  );
});
