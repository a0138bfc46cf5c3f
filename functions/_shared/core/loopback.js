// @ts-check
/**
 * True for loopback hosts (127.0.0.0/8, ::1, localhost): where plain http is
 * accepted and the development conveniences may run. Plain JavaScript with
 * JSDoc types, so the Node scripts and the Deno functions share one copy.
 * @param {string} hostname a URL's hostname, with or without IPv6 brackets
 * @returns {boolean}
 */
export function isLoopbackHost(hostname) {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}
