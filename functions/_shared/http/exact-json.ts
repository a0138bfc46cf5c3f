/**
 * Whether a JSON body survives being parsed, stored in Postgres jsonb and
 * read back unchanged, and if not, which value does not. JSON.parse alone
 * changes some values without a word:
 * - a number becomes the nearest 64-bit float: `1e400` is Infinity (which
 *   JSON.stringify writes as `null`), 9007199254740993 becomes ...992, and
 *   1.00000000000000000001 becomes 1. A number is kept when the float's
 *   shortest decimal, which is what JSON.stringify writes and jsonb stores,
 *   has the value of the literal sent: 0.1, 1.10 (as 1.1), 1e21, and -0 (as
 *   0: a decimal has no negative zero, and jsonb none either);
 * - a repeated key keeps only its last value;
 * - jsonb refuses a string or key holding \u0000 or half a surrogate pair.
 * A `__proto__` key needs nothing here: JSON.parse makes it an own key like
 * any other (a schema must then pass the object on, not copy it).
 *
 * The check reads the body's text, not the parsed value: the value no longer
 * holds the literal or the repeated key. A JSON.parse reviver's
 * `context.source` would give the literals, but not on Node 20 (which runs
 * the tests) and still not the repeated keys; a scanner over text that
 * JSON.parse has already accepted needs no error handling of its own, and is
 * iterative, so deep nesting cannot exhaust the stack.
 */

/** A container being read: an object (its keys so far and whether a key comes next) or an array. */
type Frame = { keys: Set<string>; key: string; keyNext: boolean } | { index: number };

/**
 * The first value of `text` (JSON that JSON.parse accepts) that would not be
 * stored exactly, as a message naming it (`payload.a[2]: 1e400 cannot be
 * stored exactly; send it as a string`); null when every value would be.
 */
export function inexactJson(text: string): string | null {
  const stack: Frame[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === "{") {
      stack.push({ keys: new Set(), key: "", keyNext: true });
      i += 1;
    } else if (c === "[") {
      stack.push({ index: 0 });
      i += 1;
    } else if (c === "}" || c === "]") {
      stack.pop();
      i += 1;
    } else if (c === ",") {
      if (top !== undefined) {
        if ("index" in top) top.index += 1;
        else top.keyNext = true;
      }
      i += 1;
    } else if (c === ":") {
      if (top !== undefined && "keyNext" in top) top.keyNext = false;
      i += 1;
    } else if (c === '"') {
      const end = stringEnd(text, i);
      const raw = text.slice(i, end);
      // Without an escape, the text between the quotes is the string: the body
      // was decoded as strict UTF-8, so it holds neither \u0000 nor a lone surrogate.
      const value: string = raw.includes("\\") ? JSON.parse(raw) : raw.slice(1, -1);
      const flaw = stringFlaw(value);
      if (top !== undefined && "keyNext" in top && top.keyNext) {
        if (flaw) return named(stack.slice(0, -1), `a key holding ${flaw} cannot be stored`);
        top.key = value;
        if (top.keys.has(value)) return named(stack, "the key appears twice; only one value can be stored");
        top.keys.add(value);
      } else if (flaw) {
        return named(stack, `a string holding ${flaw} cannot be stored`);
      }
      i = end;
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      NUMBER.lastIndex = i;
      const literal = (NUMBER.exec(text) as RegExpExecArray)[0];
      if (!isExactNumber(literal)) {
        return named(stack, `${shorten(literal)} cannot be stored exactly; send it as a string`);
      }
      i += literal.length;
    } else {
      // Whitespace, or a letter of true, false or null.
      i += 1;
    }
  }
  return null;
}

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** The index just past the closing quote of the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let quote = text.indexOf('"', start + 1);
  for (;;) {
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === "\\") backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    quote = text.indexOf('"', quote + 1);
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What in `value` jsonb cannot hold, or null. */
function stringFlaw(value: string): string | null {
  if (value.includes("\u0000")) return "\\u0000";
  if (LONE_SURROGATE.test(value)) return "half a surrogate pair";
  return null;
}

/** A finite float whose shortest decimal has the literal's value. */
function isExactNumber(literal: string): boolean {
  const value = Number(literal);
  if (!Number.isFinite(value)) return false;
  // What JavaScript clients send: the shortest decimal itself.
  if (literal === String(value)) return true;
  return decimal(literal) === decimal(String(value));
}

/**
 * A number literal's value as `<sign><digits>e<exponent>`, with neither
 * leading nor trailing zeros in the digits, so two literals have one value
 * exactly when they have one spelling here; zero is `0` whatever its sign. A
 * literal may carry any number of digits: an exponent too long for a float's
 * whole numbers is counted as a bigint.
 */
function decimal(literal: string): string {
  const [, sign, whole, fraction = "", exponent = "0"] = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(
    literal,
  ) as RegExpExecArray;
  const significant = `${whole}${fraction}`.replace(/^0+/, "");
  if (significant === "") return "0";
  const digits = significant.replace(/0+$/, "");
  const shift = significant.length - digits.length - fraction.length;
  const power = exponent.length < 16 ? Number(exponent) + shift : BigInt(exponent) + BigInt(shift);
  return `${sign}${digits}e${power}`;
}

/** `message` after the path of the value being read, such as `payload.list[2]` (no path: the body itself). */
function named(stack: readonly Frame[], message: string): string {
  let path = "";
  for (const frame of stack) {
    if ("index" in frame) path += `[${frame.index}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]{0,39}$/.test(frame.key)) path += path === "" ? frame.key : `.${frame.key}`;
    else path += `[${JSON.stringify(shorten(frame.key))}]`;
  }
  return path === "" ? message : `${path}: ${message}`;
}

/** At most 40 characters of what the client sent, so a message stays short. */
function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
