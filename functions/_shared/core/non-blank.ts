/** The string trimmed, or null when it is not a string or holds only whitespace. */
export function nonBlank(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}
