/**
 * Every link in the README, CONTRIBUTING.md and docs/ points somewhere: a
 * relative link at a file that exists (and, with `#anchor`, at a heading of
 * that file, slugged as GitHub does), and every `docs/<page>.md` a comment in
 * the code names is a page that exists.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/server.ts";

const pages = [
  "README.md",
  "CONTRIBUTING.md",
  ...readdirSync(path.join(projectRoot, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const base = heading[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

function linksOf(markdown: string): string[] {
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...withoutCode.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

function codeFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(projectRoot, dir))) {
    const rel = `${dir}/${name}`;
    if (name === "node_modules") continue;
    if (statSync(path.join(projectRoot, rel)).isDirectory()) out.push(...codeFiles(rel));
    else if (/\.(ts|mts|js|mjs|sql|toml)$/.test(name)) out.push(rel);
  }
  return out;
}

describe("documentation links", () => {
  it.each(pages)("every relative link in %s points at a file and heading that exist", (page) => {
    const text = readFileSync(path.join(projectRoot, page), "utf8");
    const broken: string[] = [];
    for (const link of linksOf(text)) {
      if (/^(https?|mailto):/.test(link)) continue;
      const [file, anchor] = link.split("#");
      const target = file ? path.normalize(path.join(path.dirname(page), file)) : page;
      if (!existsSync(path.join(projectRoot, target))) {
        broken.push(`${link} (no file ${target})`);
        continue;
      }
      if (
        anchor &&
        target.endsWith(".md") &&
        !anchorsOf(readFileSync(path.join(projectRoot, target), "utf8")).has(anchor)
      ) {
        broken.push(`${link} (no heading #${anchor} in ${target})`);
      }
    }
    expect(broken, `${page} links to nowhere`).toEqual([]);
  });

  it("names only documentation pages that exist in code comments, and never a README section", () => {
    const broken: string[] = [];
    for (const file of ["functions", "scripts", "tests", "web", "supabase", "sql", "examples"].flatMap(codeFiles)) {
      const text = readFileSync(path.join(projectRoot, file), "utf8");
      for (const m of text.matchAll(/docs\/([a-z-]+\.md)/g)) {
        if (!existsSync(path.join(projectRoot, "docs", m[1]))) broken.push(`${file}: docs/${m[1]}`);
      }
      // The README is a front door: reference facts live in docs/, so code points there.
      for (const m of text.matchAll(/README[,:]? "([^"]+)"|README's [A-Z][a-z]+ (section|table)/g)) {
        broken.push(`${file}: ${m[0]}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
