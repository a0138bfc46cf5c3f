import { describe, expect, it } from "vitest";
import { z } from "zod";
import { KeygateError } from "../../functions/_shared/core/errors.ts";
import { MAX_BODY_BYTES, MAX_JSON_DEPTH, readJson, toResponse } from "../../functions/_shared/http/response.ts";

const anything = z.unknown();
const post = (body: BodyInit | null, type = "application/json") =>
  new Request("http://127.0.0.1/x", { method: "POST", body, headers: { "content-type": type } });

async function refusal(promise: Promise<unknown>): Promise<KeygateError> {
  const err = await promise.then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeInstanceOf(KeygateError);
  return err as KeygateError;
}

function nested(depth: number): string {
  return `${"[".repeat(depth - 1)}{}${"]".repeat(depth - 1)}`;
}

describe("readJson", () => {
  it("accepts JSON nested up to the limit and refuses one level more with 400", async () => {
    expect(await readJson(post(nested(MAX_JSON_DEPTH)), anything)).toBeDefined();
    const err = await refusal(readJson(post(nested(MAX_JSON_DEPTH + 1)), anything));
    expect([err.status, err.code]).toEqual([400, "validation_failed"]);
  });

  it("refuses a deep body that fits in 16 KiB without exhausting the stack", async () => {
    const body = `{"a":${nested(7000)}}`;
    expect(body.length).toBeLessThan(MAX_BODY_BYTES);
    expect((await refusal(readJson(post(body), anything))).status).toBe(400);
  });

  it("takes only application/json (with parameters) as JSON", async () => {
    expect(await readJson(post("{}", "application/json; charset=utf-8"), anything)).toEqual({});
    for (const type of ["application/json-patch+json", "text/plain", "application/jsonx"]) {
      const err = await refusal(readJson(post("{}", type), anything));
      expect([err.status, err.code], type).toEqual([415, "unsupported_media_type"]);
    }
  });

  it("refuses a body over 16 KiB with 413, whatever the declared length", async () => {
    const big = "x".repeat(MAX_BODY_BYTES + 1);
    expect((await refusal(readJson(post(`"${big}"`), anything))).status).toBe(413);
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`"${big}"`));
        controller.close();
      },
    });
    const chunked = new Request("http://127.0.0.1/x", {
      method: "POST",
      body: stream,
      headers: { "content-type": "application/json" },
      duplex: "half",
    } as RequestInit);
    expect((await refusal(readJson(chunked, anything))).status).toBe(413);
  });

  it("answers 400 when the body cannot be read (client gone)", async () => {
    const broken = new ReadableStream({
      pull(controller) {
        controller.error(new Error("connection reset"));
      },
    });
    const req = new Request("http://127.0.0.1/x", {
      method: "POST",
      body: broken,
      headers: { "content-type": "application/json" },
      duplex: "half",
    } as RequestInit);
    const err = await refusal(readJson(req, anything));
    expect([err.status, err.code]).toEqual([400, "bad_request"]);
  });
});

describe("toResponse", () => {
  it("hides an unexpected error behind a 500 and logs only its name and code", async () => {
    const logged: unknown[] = [];
    const err = Object.assign(new Error("password=hunter2 in a message"), { code: "42P05" });
    const res = toResponse(err, (message, fields) => logged.push({ message, ...fields }));
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).not.toContain("hunter2");
    expect(logged).toEqual([{ message: "unhandled error", name: "Error", code: "42P05" }]);
  });
});
