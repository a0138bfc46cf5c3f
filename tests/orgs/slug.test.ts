import { describe, expect, it } from "vitest";
import { slugFrom } from "../../functions/_shared/handlers/orgs/handler.ts";

describe("an organization's slug made from its name", () => {
  it("keeps lowercase ASCII letters and digits, turns every other run into one dash, and trims dashes", () => {
    expect(slugFrom("Acme Corp")).toBe("acme-corp");
    expect(slugFrom("  Ünïcode & Co!! ")).toBe("unicode-co");
    expect(slugFrom("---")).toBe("org");
    expect(slugFrom("東京")).toBe("org");
  });

  it("is at most 40 characters and never ends in a dash after cutting", () => {
    const slug = slugFrom(`${"a".repeat(39)} b`);
    expect(slug.length).toBeLessThanOrEqual(40);
    expect(slug).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/);
  });
});
