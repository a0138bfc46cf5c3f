// @ts-check
// A reverse proxy in its own process, as nginx or Caddy would sit in front of
// Keygate: it listens on a loopback port, forwards every request to the
// target from a chosen source address, and appends the peer it saw to
// X-Forwarded-For (or, with --header forwarded, an RFC 7239 `for=` element
// to Forwarded), keeping whatever the client sent in front of it.
//
//   node tests/helpers/forwarding-proxy.mjs --target http://127.0.0.1:54321 \
//     --source 127.0.0.10 [--header x-forwarded-for|forwarded]
//
// Prints "listening <port>" once it accepts connections.
import http from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    target: { type: "string" },
    source: { type: "string", default: "127.0.0.1" },
    header: { type: "string", default: "x-forwarded-for" },
  },
});
if (!values.target) throw new Error("--target is required");
const target = new URL(values.target);
const header = values.header === "forwarded" ? "forwarded" : "x-forwarded-for";

/** @param {string} peer */
function forwardedNode(peer) {
  return peer.includes(":") ? `for="[${peer}]"` : `for=${peer}`;
}

const server = http.createServer((req, res) => {
  const peer = req.socket.remoteAddress ?? "unknown";
  /** @type {import("node:http").OutgoingHttpHeaders} */
  const headers = { ...req.headers, host: target.host };
  const sent = req.headers[header];
  const own = header === "forwarded" ? forwardedNode(peer) : peer;
  headers[header] = sent ? `${[sent].flat().join(", ")}, ${own}` : own;
  const upstream = http.request(
    {
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers,
      localAddress: values.source,
      agent: false,
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on("error", () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
});

server.listen(0, "127.0.0.1", () => {
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  console.log(`listening ${address.port}`);
});
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
