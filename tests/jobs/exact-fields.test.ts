/**
 * The free-form job fields (payload, progress, result) through the real
 * server: stored and returned exactly as sent, or refused with 400 naming the
 * field, with nothing written. The bodies are sent as raw text, so the
 * numbers and escapes are the client's own.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Call } from "../helpers/call.ts";
import { canonical } from "../helpers/canonical-json.ts";
import { type KeyHolder, userWithKey } from "../helpers/keys.ts";
import { useStack } from "../helpers/stack.ts";
import { jobsClient } from "./helpers.ts";

let jobs: ReturnType<typeof jobsClient>;

const stack = useStack();
beforeAll(async () => {
  jobs = jobsClient(stack.url);
});

const send = (path: string, holder: KeyHolder, text: string) =>
  jobs(path, holder.key, { method: "POST", body: text, headers: { "content-type": "application/json" } });

const refusal = (res: Call) => [res.status, res.body?.error?.code];

/** A job of `holder`'s, claimed by the same key and leased for an hour. */
async function runningJob(holder: KeyHolder): Promise<string> {
  const { rows } = await stack.admin.query(
    "insert into public.jobs (user_id, type) values ($1, 'exact.running') returning id",
    [holder.userId],
  );
  const claimed = await send("jobs/claim", holder, '{"types":["exact.running"],"lease_seconds":3600}');
  expect(claimed.body.jobs.map((j: { id: string }) => j.id)).toEqual([rows[0].id]);
  return rows[0].id;
}

async function stored(id: string): Promise<Record<string, unknown>> {
  const { rows } = await stack.admin.query(
    `select status, payload::text as payload, progress::text as progress, result::text as result,
            updated_at, lease_expires_at
       from public.jobs where id = $1`,
    [id],
  );
  return rows[0];
}

/** Whether the database holds, in `column` of job `id`, the value of the JSON text `sent` (numbers compared exactly). */
async function holdsExactly(id: string, column: "payload" | "progress" | "result", sent: string): Promise<boolean> {
  const { rows } = await stack.admin.query(`select ${column} = $2::jsonb as same from public.jobs where id = $1`, [
    id,
    sent,
  ]);
  return rows[0].same;
}

const jobCount = async (holder: KeyHolder) =>
  Number(
    (await stack.admin.query("select count(*) from public.jobs where user_id = $1", [holder.userId])).rows[0].count,
  );

/** Numbers no 64-bit float holds: out of range, or more digits than one carries. */
const INEXACT = ["1e400", "-1e400", "9007199254740993", "1.00000000000000000001", "1e-400"];

describe("a payload", () => {
  const payload = [
    "{",
    '"__proto__": {"polluted": true},',
    '"constructor": {"prototype": {"polluted": true}},',
    '"nested": {"list": [1, [2, {"deep": null}], "\\u00e9\\n"], "a": {"b": {"c": true}}},',
    '"tenth": 0.1, "trailing_zero": 1.10, "scientific": 1.5e3, "big": 1e21, "minus_zero": -0,',
    '"max_safe": 9007199254740991, "tiny": 5e-324, "largest": 1.7976931348623157e308,',
    '"escapes": "quote \\" backslash \\\\ tab \\t slash \\/ pair \\ud83d\\ude00"',
    "}",
  ].join("");

  it("with own __proto__ and constructor keys, nesting, arrays, 0.1, 1e21 and -0 comes back as sent", async () => {
    const owner = await userWithKey(stack.admin);
    const res = await send("jobs", owner, `{"type": "exact", "payload": ${payload}}`);
    expect(res.status, JSON.stringify(res.body)).toBe(202);

    const sent = JSON.parse(payload);
    const one = await jobs(`jobs/${res.body.id}`, owner.key);
    expect(one.status).toBe(200);
    expect(canonical(one.body.payload)).toBe(canonical(sent));
    expect(Object.keys(one.body.payload)).toContain("__proto__");
    expect(Object.getOwnPropertyDescriptor(one.body.payload, "__proto__")?.value).toEqual({ polluted: true });
    expect(one.body.payload.constructor).toEqual({ prototype: { polluted: true } });
    expect(one.body.payload.tenth).toBe(0.1);
    expect(one.body.payload.big).toBe(1e21);
    // -0 is the number zero: it is stored and returned as 0 (jsonb has no negative zero).
    expect(Object.is(one.body.payload.minus_zero, 0)).toBe(true);

    expect(await holdsExactly(res.body.id, "payload", payload)).toBe(true);
    const text = (await stored(res.body.id)).payload as string;
    expect(text).toContain('"__proto__": {"polluted": true}');
    expect(text).toContain('"big": 1000000000000000000000');
    expect(text).toContain('"tenth": 0.1');
    expect(text).toContain('"minus_zero": 0');
    expect(canonical(JSON.parse(text))).toBe(canonical(sent));

    const listed = await jobs("jobs", owner.key);
    expect(canonical(listed.body.jobs[0].payload)).toBe(canonical(sent));
  });

  it("nested as deep as a body may be comes back as sent", async () => {
    const owner = await userWithKey(stack.admin);
    const deep = `${'{"a":['.repeat(15)}1e21${"]}".repeat(15)}`;
    const res = await send("jobs", owner, `{"type": "exact", "payload": ${deep}}`);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(canonical((await jobs(`jobs/${res.body.id}`, owner.key)).body.payload)).toBe(canonical(JSON.parse(deep)));
    expect(await holdsExactly(res.body.id, "payload", deep)).toBe(true);
  });

  it("with a number no float holds is refused with 400 naming the field, and creates nothing", async () => {
    const owner = await userWithKey(stack.admin);
    for (const literal of INEXACT) {
      for (const [text, field] of [
        [`{"a": {"b": ${literal}}}`, "payload.a.b"],
        [`{"list": [1, {"n": [${literal}]}]}`, "payload.list[1].n[0]"],
        [`{"__proto__": ${literal}}`, "payload.__proto__"],
        [`${'{"a":'.repeat(20)}${literal}${"}".repeat(20)}`, `payload${".a".repeat(20)}`],
      ]) {
        const res = await send("jobs", owner, `{"type": "exact", "payload": ${text}}`);
        expect(refusal(res), text).toEqual([400, "validation_failed"]);
        expect(res.body.error.message).toBe(`${field}: ${literal} cannot be stored exactly; send it as a string`);
      }
    }
    expect(await jobCount(owner)).toBe(0);
  });

  it("with \\u0000, half a surrogate pair or a repeated key is refused with 400 naming the field", async () => {
    const owner = await userWithKey(stack.admin);
    for (const [text, message] of [
      ['{"note": "a\\u0000b"}', "payload.note: a string holding \\u0000 cannot be stored"],
      ['{"list": ["\\u0000"]}', "payload.list[0]: a string holding \\u0000 cannot be stored"],
      ['{"a": {"b\\u0000": 1}}', "payload.a: a key holding \\u0000 cannot be stored"],
      ['{"note": "\\ud800"}', "payload.note: a string holding half a surrogate pair cannot be stored"],
      ['{"note": "x\\udc00"}', "payload.note: a string holding half a surrogate pair cannot be stored"],
      ['{"a": 1, "a": 2}', "payload.a: the key appears twice; only one value can be stored"],
      [
        '{"n": {"__proto__": 1, "__proto__": 2}}',
        "payload.n.__proto__: the key appears twice; only one value can be stored",
      ],
    ]) {
      const res = await send("jobs", owner, `{"type": "exact", "payload": ${text}}`);
      expect(refusal(res), text).toEqual([400, "validation_failed"]);
      expect(res.body.error.message, text).toBe(message);
    }
    expect(await jobCount(owner)).toBe(0);
  });
});

describe("progress", () => {
  it("is recorded as sent, and a value that cannot be stored is refused with 400, changing nothing", async () => {
    const worker = await userWithKey(stack.admin);
    const id = await runningJob(worker);
    const progress = '{"done": 0.1, "of": 1e21, "__proto__": {"step": -0}, "steps": [1.5e3, "\\u00e9"]}';
    const ok = await send(`jobs/${id}/heartbeat`, worker, `{"progress": ${progress}}`);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(canonical(ok.body.progress)).toBe(canonical(JSON.parse(progress)));
    expect(canonical((await jobs(`jobs/${id}`, worker.key)).body.progress)).toBe(canonical(JSON.parse(progress)));
    expect(await holdsExactly(id, "progress", progress)).toBe(true);

    const before = await stored(id);
    for (const literal of INEXACT) {
      for (const [text, field] of [
        [`{"done": ${literal}}`, "progress.done"],
        [`[${literal}]`, "progress[0]"],
        [literal, "progress"],
      ]) {
        const res = await send(`jobs/${id}/heartbeat`, worker, `{"progress": ${text}, "lease_seconds": 60}`);
        expect(refusal(res), text).toEqual([400, "validation_failed"]);
        expect(res.body.error.message).toBe(`${field}: ${literal} cannot be stored exactly; send it as a string`);
      }
    }
    const nul = await send(`jobs/${id}/heartbeat`, worker, '{"progress": {"note": "\\u0000"}}');
    expect([...refusal(nul), nul.body.error.message]).toEqual([
      400,
      "validation_failed",
      "progress.note: a string holding \\u0000 cannot be stored",
    ]);
    expect(await stored(id)).toEqual(before);
  });
});

describe("a result", () => {
  it("is stored as sent, and a value that cannot be stored is refused with 400, leaving the job running", async () => {
    const worker = await userWithKey(stack.admin);
    const id = await runningJob(worker);
    const before = await stored(id);
    for (const literal of INEXACT) {
      for (const [text, field] of [
        [`{"rows": [{"total": ${literal}}]}`, "result.rows[0].total"],
        [literal, "result"],
      ]) {
        const res = await send(`jobs/${id}/complete`, worker, `{"result": ${text}}`);
        expect(refusal(res), text).toEqual([400, "validation_failed"]);
        expect(res.body.error.message).toBe(`${field}: ${literal} cannot be stored exactly; send it as a string`);
      }
    }
    const nul = await send(`jobs/${id}/complete`, worker, '{"result": "\\u0000"}');
    expect([...refusal(nul), nul.body.error.message]).toEqual([
      400,
      "validation_failed",
      "result: a string holding \\u0000 cannot be stored",
    ]);
    expect(await stored(id)).toEqual(before);
    expect(before).toMatchObject({ status: "running", result: null });

    const result = '{"constructor": 1, "__proto__": [0.1, 1e21, -0], "rows": [{"total": 9007199254740991}]}';
    const ok = await send(`jobs/${id}/complete`, worker, `{"result": ${result}}`);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.status).toBe("succeeded");
    expect(canonical((await jobs(`jobs/${id}`, worker.key)).body.result)).toBe(canonical(JSON.parse(result)));
    expect(await holdsExactly(id, "result", result)).toBe(true);
  });
});
