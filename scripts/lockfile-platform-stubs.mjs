#!/usr/bin/env node
// @ts-check
// Adds lockfile entries for optional, platform-specific packages that the
// package registry of our build machines does not serve (it mirrors Linux
// builds only). Without them `npm ci` refuses the lockfile as out of sync
// ("Missing: @deno/darwin-arm64@ from lock file"). Each stub records the
// version its parent pins plus its os/cpu/libc, so npm skips it on other
// platforms and fetches it by version where it applies.
//
// Run after any dependency change: `node scripts/lockfile-platform-stubs.mjs`.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const LOCK = new URL("../package-lock.json", import.meta.url);

function missingPackages() {
  try {
    execFileSync("npm", ["ci", "--dry-run", "--ignore-scripts"], { stdio: "pipe" });
    return [];
  } catch (err) {
    const { stdout, stderr } = /** @type {{ stdout: Buffer, stderr: Buffer }} */ (err);
    const text = `${stdout}${stderr}`;
    return [...new Set([...text.matchAll(/Missing: (\S+?)@\S* from lock file/g)].map((m) => m[1]))];
  }
}

/** @param {string} name */
function platformOf(name) {
  const base = name.split("/").pop() ?? name;
  const os = ["darwin", "win32", "windows", "android", "freebsd", "openbsd", "openharmony", "linux"].find((o) =>
    base.includes(o),
  );
  const cpu = ["arm64", "x64", "ia32", "arm", "loong64", "ppc64", "riscv64", "s390x"].find((a) =>
    base.includes(`-${a}`),
  );
  const libc = base.includes("musl") ? "musl" : /gnu|glibc/.test(base) ? "glibc" : undefined;
  return {
    ...(cpu && { cpu: [cpu] }),
    ...(libc && { libc: [libc] }),
    ...(os && { os: [os === "windows" ? "win32" : os] }),
  };
}

const missing = missingPackages();
if (missing.length === 0) {
  console.log("package-lock.json is in sync; nothing to add.");
  process.exit(0);
}
const lock = JSON.parse(readFileSync(LOCK, "utf8"));
for (const name of missing) {
  const parent = Object.values(lock.packages).find((meta) => meta.optionalDependencies?.[name]);
  if (!parent) throw new Error(`no package in the lockfile declares ${name} as optional`);
  lock.packages[`node_modules/${name}`] = {
    version: parent.optionalDependencies[name],
    ...(parent.dev && { dev: true }),
    optional: true,
    ...platformOf(name),
  };
}
const sorted = Object.keys(lock.packages).sort((a, b) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)));
lock.packages = Object.fromEntries(sorted.map((k) => [k, lock.packages[k]]));
writeFileSync(LOCK, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`Added ${missing.length} platform stubs to package-lock.json: ${missing.join(", ")}`);
