/**
 * The `for=` node of one element of an RFC 7239 `Forwarded` header
 * (`for=192.0.2.60;proto=https;by=203.0.113.43`,
 * `For="[2001:db8:cafe::17]:4711"`), unquoted: the text address-token.ts
 * reads. Null when the element names no node, names two, or is malformed.
 *
 * The caller splits the header into elements at every comma, quoted or not:
 * a proxy's own element never holds one, and an element a client forged
 * (`for="a,b`, an unterminated quote) must not swallow the elements that
 * trusted proxies appended after it.
 */
export function forwardedFor(element: string): string | null {
  let node: string | null = null;
  for (const pair of element.split(";")) {
    const eq = pair.indexOf("=");
    if (eq === -1) {
      if (pair.trim() === "") continue;
      return null;
    }
    if (pair.slice(0, eq).trim().toLowerCase() !== "for") continue;
    if (node !== null) return null;
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"')) {
      if (value.length < 2 || !value.endsWith('"')) return null;
      value = value.slice(1, -1);
      // No address needs a quoted-pair; a backslash or quote inside is not a proxy's writing.
      if (/["\\]/.test(value)) return null;
    }
    node = value;
  }
  return node;
}
