/**
 * The log every function writes: one JSON line on stderr per event. A field
 * is a name or a code, never a key, token, cookie, code or email.
 */
export type Logger = (message: string, fields?: Record<string, unknown>) => void;

/** Default logger: one JSON line on stderr. Never pass secrets to it. */
export const logError: Logger = (message, fields = {}) => {
  console.error(JSON.stringify({ level: "error", message, ...fields }));
};
