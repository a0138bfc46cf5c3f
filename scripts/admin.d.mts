// Types for scripts/admin.mjs, imported by the tests.
export function parseArgs(args: string[]): {
  verb: "grant" | "revoke" | "show";
  email: string;
  role: string | null;
  add: string[];
  remove: string[];
} | null;
