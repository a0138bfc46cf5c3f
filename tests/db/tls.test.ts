import pg from "pg";
import { describe, expect, it } from "vitest";
import { poolSettingsFor } from "../../functions/_shared/db/db.ts";
import { tlsFor } from "../../functions/_shared/db/tls.ts";

/** What node-postgres itself will use, after reading the URL and the options together. */
function sslPgUses(url: string): unknown {
  const client = new pg.Client(poolSettingsFor(url).client);
  return (client as unknown as { connectionParameters: { ssl: unknown } }).connectionParameters.ssl;
}

describe("TLS for the database connection", () => {
  it("uses TLS for a remote host whose URL says nothing about it", () => {
    for (const url of [
      "postgresql://postgres.ref:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres",
      "postgresql://postgres:pw@db.abcdefghijklmnop.supabase.co:5432/postgres",
      "postgres://u@10.0.0.5/db",
      "postgresql://u@[2001:db8::1]:5432/db",
    ]) {
      expect(tlsFor(url), url).toEqual({ rejectUnauthorized: false });
      expect(sslPgUses(url), url).toEqual({ rejectUnauthorized: false });
    }
  });

  it("stays plain on loopback and Unix sockets", () => {
    for (const url of [
      "postgresql://postgres@127.0.0.1:5432/postgres",
      "postgresql://postgres@localhost/postgres",
      "postgresql://postgres@[::1]:6543/postgres",
      "postgresql://postgres@127.0.0.2:6432/x",
      "postgresql:///postgres?host=/var/run/postgresql",
    ]) {
      expect(tlsFor(url), url).toBe(false);
      expect(sslPgUses(url), url).toBe(false);
    }
  });

  it("obeys a URL that names its own TLS mode", () => {
    const remote = "postgresql://u:pw@db.example.com:5432/db";
    expect(tlsFor(`${remote}?sslmode=disable`)).toBeUndefined();
    expect(sslPgUses(`${remote}?sslmode=disable`)).toBe(false);
    expect(sslPgUses(`${remote}?sslmode=no-verify`)).toMatchObject({ rejectUnauthorized: false });
    // verify-full: node-postgres checks the certificate and the host name.
    const full = sslPgUses(`${remote}?sslmode=verify-full`) as Record<string, unknown>;
    expect(full).toBeTypeOf("object");
    expect(full.rejectUnauthorized).not.toBe(false);
    // Loopback with TLS asked for gets TLS.
    expect(sslPgUses("postgresql://u@127.0.0.1/db?ssl=true")).toBe(true);
  });

  it("leaves a string that is no URL to node-postgres", () => {
    expect(tlsFor("not a url")).toBeUndefined();
  });
});
