/** `GET /health`: 200 when the database answers, 503 when it does not. */
import type { Db } from "../../db/db.ts";
import { handleErrors, json, methodNotAllowed } from "../../http/response.ts";

export function createHealthHandler({ db }: { db: Db }): (req: Request) => Promise<Response> {
  return handleErrors(async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") throw methodNotAllowed(["GET", "HEAD"]);
    await db.query("select 1");
    return json({ status: "ok", database: "ok" }, { headers: { "cache-control": "no-store" } });
  });
}
