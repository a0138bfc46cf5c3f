import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_STATUS } from "../../functions/_shared/core/errors.ts";
import { projectRoot } from "../helpers/server.ts";

/** The rows of the "Error codes" table of docs/api.md: code -> status. */
function documentedCodes(): Map<string, number> {
  const text = readFileSync(path.join(projectRoot, "docs/api.md"), "utf8");
  const section = text.slice(text.indexOf("## Error codes"));
  const rows = new Map<string, number>();
  for (const match of section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)) rows.set(match[1], Number(match[2]));
  return rows;
}

describe("the API page's error codes", () => {
  it("lists every error code the functions answer, with its status, and no other", () => {
    const documented = documentedCodes();
    expect(documented.size).toBeGreaterThan(0);
    expect(Object.fromEntries(documented)).toEqual(ERROR_STATUS);
  });
});
