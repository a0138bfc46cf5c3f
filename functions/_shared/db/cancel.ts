/**
 * Stops a statement on the server: Postgres's CancelRequest, sent on a new
 * connection to the same address and naming the busy connection by the
 * process id and secret key the server gave it at start-up. Closing the busy
 * connection alone would not do: Postgres notices a vanished client only
 * when it next writes to it, so a slow statement runs on to its end and
 * holds its backend (and, through a pooler, its server connection).
 *
 * Works the same through a transaction-mode pooler: PgBouncer and Supavisor
 * hand out keys of their own and forward a cancel to the server connection
 * the client is using at that moment. When the connection used TLS the
 * cancel asks for TLS too (servers that refuse plain connections refuse a
 * plain cancel as well). Postgres accepts a cancel even when it is out of
 * connection slots.
 *
 * Best effort, as the protocol is: the promise settles once the server has
 * closed the cancel connection (it closes it after acting), on any error,
 * or after `timeoutMs`; it never rejects.
 */
import pg from "pg";

/** What node-postgres keeps of a connected client, and the protocol messages its types do not show. */
interface ConnectedClient {
  host: string;
  port: number;
  processID: number | null;
  secretKey: number | null;
}
interface CancelConnection {
  connect(portOrPath: number | string, host?: string): void;
  requestSsl(): void;
  cancel(processID: number, secretKey: number): void;
  stream: { destroy(): void };
  on(event: "error", listener: () => void): void;
  once(event: "connect" | "sslconnect" | "end", listener: () => void): void;
}

export function cancelStatement(client: pg.Client, ssl: pg.ClientConfig["ssl"], timeoutMs: number): Promise<void> {
  const { host, port, processID, secretKey } = client as unknown as ConnectedClient;
  if (processID === null || secretKey === null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    // node-postgres's own connection does the TLS upgrade (SSLRequest, then the handshake) as its clients do.
    const con = new pg.Connection({ ssl } as pg.ConnectionConfig) as unknown as CancelConnection;
    const done = () => {
      clearTimeout(timer);
      con.stream.destroy();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    con.on("error", done);
    // The server closes the cancel connection once it has acted on the request.
    con.once("end", done);
    con.once("connect", () => (ssl ? con.requestSsl() : con.cancel(processID, secretKey)));
    con.once("sslconnect", () => con.cancel(processID, secretKey));
    if (host.startsWith("/")) con.connect(`${host}/.s.PGSQL.${port}`);
    else con.connect(port, host);
  });
}
