import { createTestDatabase } from "../helpers/database.ts";
import { connectRunner } from "../helpers/rls.ts";
import { defineRlsMatrix } from "./rls-matrix.ts";

defineRlsMatrix("real Postgres", async () => {
  const database = await createTestDatabase();
  const runner = await connectRunner(database.url);
  return {
    runner,
    async close() {
      await runner.end();
      await database.drop();
    },
  };
});
