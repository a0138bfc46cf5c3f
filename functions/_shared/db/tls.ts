import { isLoopbackHost } from "../core/loopback.js";
/**
 * Whether a database connection uses TLS, decided from its URL alone.
 *
 * A URL that says anything about TLS (`sslmode`, `ssl`, `sslrootcert`, ...)
 * is obeyed as node-postgres reads it. Otherwise a loopback host or a Unix
 * socket stays plain, and any other host gets TLS: encrypted, with the
 * server's certificate not checked against a CA (what libpq's
 * `sslmode=require` does). Supabase's poolers present a certificate signed by
 * Supabase's own root CA, which no system trust store holds; to check it, put
 * `sslmode=verify-full&sslrootcert=<path to that CA>` in the URL.
 */

/** What node-postgres gets as its `ssl` option; `undefined` leaves it to the URL. */
export type DbTls = false | { rejectUnauthorized: false } | undefined;

const tlsParameters = ["sslmode", "ssl", "sslcert", "sslkey", "sslrootcert", "sslnegotiation"];

export function tlsFor(databaseUrl: string): DbTls {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return undefined; // Not a URL: node-postgres reports it.
  }
  if (tlsParameters.some((name) => url.searchParams.has(name))) return undefined;
  const host = url.searchParams.get("host") ?? decodeURIComponent(url.hostname);
  if (host === "" || host.startsWith("/") || isLoopbackHost(host)) return false;
  return { rejectUnauthorized: false };
}
