/**
 * The cursor of `GET /admin/users`: where the previous page ended in the
 * listing's order (lower(email), id), as opaque base64url text.
 */
import { KeygateError } from "../../core/errors.ts";
import { isUuid } from "../../core/uuid.ts";

export interface UserCursor {
  email: string;
  id: string;
}

function toBase64url(text: string): string {
  let binary = "";
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function encodeUserCursor(cursor: UserCursor): string {
  return toBase64url(JSON.stringify([cursor.email.toLowerCase(), cursor.id]));
}

export function decodeUserCursor(text: string): UserCursor {
  try {
    if (text.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(text)) throw new Error("shape");
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const value: unknown = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))),
    );
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === "string" &&
      typeof value[1] === "string" &&
      isUuid(value[1])
    ) {
      return { email: value[0], id: value[1] };
    }
  } catch {
    // fall through
  }
  throw new KeygateError("validation_failed", "cursor: the next_cursor of a previous page");
}
