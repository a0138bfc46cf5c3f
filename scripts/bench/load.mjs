#!/usr/bin/env node
// @ts-check
// One autocannon run in its own process (so the load generator does not share
// an event loop with anything it measures). Reads its options as JSON from
// argv[2], prints one JSON line: {rps, p50, p99, requests, non2xx, errors}.
import autocannon from "autocannon";
import { isLoopbackHost } from "../../functions/_shared/core/loopback.js";

/**
 * The line this prints: requests per second, latency percentiles in ms, and counts.
 * @typedef {{
 *   rps: number, p50: number, p99: number, requests: number, non2xx: number,
 *   status: { "2xx": number, "4xx": number, "5xx": number }, errors: number
 * }} LoadResult
 */

const { url, headers = {}, connections, seconds, method = "GET" } = JSON.parse(process.argv[2]);
const target = new URL(url);
if (target.protocol !== "http:" || !isLoopbackHost(target.hostname))
  throw new Error("bench traffic goes to loopback only");

// `headers` may be a list: one set per connection, in turn (e.g. a key each, so no two
// connections ask for the same key at the same moment).
const sets = Array.isArray(headers) ? headers : [headers];
let next = 0;
const result = await autocannon({
  url,
  method,
  headers: sets[0],
  connections,
  duration: seconds,
  pipelining: 1,
  setupClient: (client) => client.setHeaders(sets[next++ % sets.length]),
});
/** @type {LoadResult} */
const line = {
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  requests: result.requests.total,
  non2xx: result.non2xx,
  status: { "2xx": result["2xx"], "4xx": result["4xx"], "5xx": result["5xx"] },
  errors: result.errors + result.timeouts,
};
process.stdout.write(`${JSON.stringify(line)}\n`);
