/**
 * A fetch from a chosen loopback source address (Linux routes all of
 * 127.0.0.0/8 to lo), for server suites where the local server tells
 * clients apart by their TCP peer. Usable as a CookieClient in-process
 * handler for the server's origin; redirects are returned, not followed.
 */
import http from "node:http";

export function fromAddress(localAddress: string): (req: Request) => Promise<Response> {
  return async (req) => {
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    return await new Promise<Response>((resolve, reject) => {
      const outgoing = http.request(
        req.url,
        { method: req.method, headers: Object.fromEntries(req.headers), localAddress, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("end", () => {
            const headers = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              for (const v of Array.isArray(value) ? value : [value ?? ""]) headers.append(name, v);
            }
            const status = res.statusCode ?? 500;
            const content = status === 204 || status === 304 ? null : Buffer.concat(chunks);
            resolve(new Response(content, { status, headers }));
          });
        },
      );
      outgoing.on("error", reject);
      outgoing.end(body);
    });
  };
}
