/**
 * The layers of `functions/`, read from the imports themselves: a file
 * imports only from its own folder or from a lower layer, and nothing
 * imports in a circle. The table is the one docs/architecture.md shows.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/server.ts";

/** Lowest first. Folders in one row are peers: neither imports the other. */
const LAYERS: readonly (readonly string[])[] = [
  ["_shared/core"],
  ["_shared/config"],
  ["_shared/http", "_shared/db"],
  ["_shared/counters"],
  ["_shared/audit"],
  ["_shared/keys"],
  ["_shared/auth"],
  ["_shared/handlers/*", "_shared/public"],
  ["*"],
];

const ORDER = LAYERS.map((row) => row.join(", ")).join(" < ");

/** The unit a file belongs to (`_shared/http`, `_shared/handlers/jobs`, `verify-key`) and its layer. */
function unitOf(file: string): { unit: string; layer: number } {
  const parts = file.split("/");
  for (const [layer, row] of LAYERS.entries()) {
    for (const pattern of row) {
      const want = pattern.split("/");
      if (parts.length <= want.length) continue;
      if (want.every((w, i) => w === "*" || w === parts[i]))
        return { unit: parts.slice(0, want.length).join("/"), layer };
    }
  }
  throw new Error(`${file} belongs to no layer`);
}

/** Null when `from` may import `to` (paths relative to functions/), else the sentence that says why not. */
function layerViolation(from: string, to: string): string | null {
  const a = unitOf(from);
  const b = unitOf(to);
  if (a.unit === b.unit || b.layer < a.layer) return null;
  const rule =
    a.layer === b.layer
      ? `${a.unit} and ${b.unit} are peers in one layer, and peers do not import each other`
      : `${b.unit} is a higher layer than ${a.unit}`;
  return `functions/${from} imports functions/${to}: ${rule}. A file imports only from its own folder or from a lower layer (${ORDER}).`;
}

const functionsDir = path.join(projectRoot, "functions");

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(ts|js)$/.test(entry.name) ? [path.relative(functionsDir, full).split(path.sep).join("/")] : [];
  });
}

/** Every relative import of `file`, as a path relative to functions/. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(functionsDir, file), "utf8");
  // Statements at the start of a line (an example in a comment is not an import), and dynamic imports.
  const specs = [
    ...text.matchAll(/^(?:import|export)\b[^;]*?from\s*"(\.{1,2}\/[^"]+)"/gm),
    ...text.matchAll(/^import\s*"(\.{1,2}\/[^"]+)"/gm),
    ...text.matchAll(/\bimport\(\s*"(\.{1,2}\/[^"]+)"\s*\)/g),
  ].map((m) => m[1]);
  return specs.map((spec) => path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
}

describe("the layers of functions/", () => {
  const files = sourceFiles(functionsDir);

  it("puts every file in a layer", () => {
    expect(files.length).toBeGreaterThan(50);
    for (const file of files) expect(() => unitOf(file), file).not.toThrow();
  });

  it("has no import from a peer or a higher layer", () => {
    const violations = files.flatMap((file) =>
      importsOf(file)
        .map((target) => layerViolation(file, target))
        .filter((v): v is string => v !== null),
    );
    expect(violations).toEqual([]);
  });

  it("has no import that points at a missing file", () => {
    const missing = files.flatMap((file) =>
      importsOf(file)
        .filter((target) => !fs.existsSync(path.join(functionsDir, target)))
        .map((t) => `${file} -> ${t}`),
    );
    expect(missing).toEqual([]);
  });

  it("has no circle of imports", () => {
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    const state = new Map<string, "open" | "done">();
    const circles: string[] = [];
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        circles.push([...trail.slice(trail.indexOf(file)), file].join(" -> "));
        return;
      }
      state.set(file, "open");
      for (const next of graph.get(file) ?? []) visit(next, [...trail, file]);
      state.set(file, "done");
    };
    for (const file of files) visit(file, []);
    expect(circles).toEqual([]);
  });

  it("explains a broken rule with the file and the rule", () => {
    expect(layerViolation("_shared/db/db.ts", "_shared/http/response.ts")).toBe(
      `functions/_shared/db/db.ts imports functions/_shared/http/response.ts: _shared/db and _shared/http are peers in one layer, and peers do not import each other. A file imports only from its own folder or from a lower layer (${ORDER}).`,
    );
    expect(layerViolation("_shared/config/config.ts", "_shared/keys/verify.ts")).toMatch(
      /^functions\/_shared\/config\/config\.ts imports functions\/_shared\/keys\/verify\.ts: _shared\/keys is a higher layer than _shared\/config\./,
    );
    expect(layerViolation("_shared/handlers/jobs/handler.ts", "_shared/handlers/admin/handler.ts")).toMatch(/peers/);
    expect(layerViolation("_shared/keys/verify.ts", "_shared/core/hash.ts")).toBeNull();
    expect(layerViolation("jobs/index.ts", "_shared/handlers/jobs/handler.ts")).toBeNull();
  });
});
