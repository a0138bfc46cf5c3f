/**
 * The cursor of GET /jobs: the position of the last job of a page (its
 * created_at in microseconds since the epoch, as Postgres keeps it, and its
 * id), opaque to clients. A JavaScript Date has only milliseconds, so the
 * microseconds come from SQL as text.
 */
import { KeygateError } from "../../core/errors.ts";
import { isUuid } from "../../core/uuid.ts";

export interface JobCursor {
  createdUs: string;
  id: string;
}

function toBase64Url(text: string): string {
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function encodeCursor(cursor: JobCursor): string {
  return toBase64Url(`${cursor.createdUs}.${cursor.id}`);
}

export function decodeCursor(raw: string): JobCursor {
  let text = "";
  try {
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(raw)) throw new Error("not base64url");
    text = atob(raw.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    throw invalidCursor();
  }
  const match = /^(-?\d{1,18})\.(.+)$/.exec(text);
  if (!match || !isUuid(match[2])) throw invalidCursor();
  return { createdUs: match[1], id: match[2] };
}

function invalidCursor(): KeygateError {
  return new KeygateError("validation_failed", "cursor: not a cursor this API gave out");
}
