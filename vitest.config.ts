import { defineConfig } from "vitest/config";
import { PGBOUNCER_INSTALL_HINT, pgbouncerBinary } from "./scripts/pgbouncer.mjs";

// The suites that talk to the functions through a database run twice:
// straight to Postgres, and through a real transaction-mode pooler
// (PgBouncer, `pool_mode = transaction`, started by tests/global-setup.ts),
// which is how a hosted deployment reaches its database (docs/deploy.md).
// This list names them; a new suite that serves requests belongs here.
const throughPooler = [
  "tests/admin/admin-api.test.ts",
  "tests/admin/admin-decisions.test.ts",
  "tests/admin/audit-events.test.ts",
  "tests/admin/role-ceiling.test.ts",
  "tests/auth/oidc-sign-in.test.ts",
  "tests/auth/refusal-limit.test.ts",
  "tests/auth/sessions.test.ts",
  "tests/db/statement-deadline.test.ts",
  "tests/http/client-address-behind-proxy.test.ts",
  "tests/jobs/exact-fields.test.ts",
  "tests/jobs/jobs.test.ts",
  "tests/jobs/limits.test.ts",
  "tests/jobs/queue.test.ts",
  "tests/jobs/summary.test.ts",
  "tests/jobs/worker.test.ts",
  "tests/keys/api-keys.test.ts",
  "tests/keys/failure-limit.test.ts",
  "tests/keys/verify-key.test.ts",
  "tests/orgs/org-jobs.test.ts",
  "tests/orgs/org-keys.test.ts",
  "tests/orgs/orgs.test.ts",
  "tests/orgs/tenancy-matrix.test.ts",
];

const hasPgbouncer = pgbouncerBinary() !== null;
if (!hasPgbouncer) {
  if (process.env.KEYGATE_REQUIRE_ALL === "1") {
    throw new Error(`KEYGATE_REQUIRE_ALL=1 but pgbouncer is not installed (${PGBOUNCER_INSTALL_HINT})`);
  }
  console.log(`skipping the pooler runs of the server suites: pgbouncer is not installed (${PGBOUNCER_INSTALL_HINT})`);
}

export default defineConfig({
  test: {
    // Runs once for the whole run (the root project), not per project below.
    globalSetup: ["tests/global-setup.ts"],
    pool: "forks",
    // Two cores: integration suites start Deno servers and browsers.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true as const, test: { name: "direct", include: ["tests/**/*.test.ts"], globalSetup: [] } },
      ...(hasPgbouncer
        ? [
            {
              extends: true as const,
              test: { name: "pooler", include: throughPooler, globalSetup: [], env: { KEYGATE_TEST_POOLER: "1" } },
            },
          ]
        : []),
    ],
  },
});
