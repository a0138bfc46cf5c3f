/**
 * What the local server (scripts/serve.ts) says about its configuration
 * before it listens: where a client's address comes from, which decides who
 * shares a failure limit and what the audit log records, and any setting
 * that leaves something silently broken in development (production refuses
 * to start instead, in loadConfig).
 */
import { type Config, SUPABASE_EMAIL_UNPROVABLE, supabaseEmailUnprovable } from "./config.ts";

function clientAddressSource({ header, trustedProxies }: Config["clientAddress"]): string {
  if (header === null) return "Client address: the TCP peer (CLIENT_IP_HEADER=none: no address header is read).";
  if (trustedProxies.isEmpty) {
    return "Client address: the TCP peer (TRUSTED_PROXIES is empty, so no address header is read).";
  }
  if (trustedProxies.includesEveryAddress) {
    const cloudflare =
      header === "cf-connecting-ip"
        ? " Only Cloudflare in front of this server makes cf-connecting-ip true; otherwise it is whatever the client sends."
        : "";
    return (
      `Client address: the ${header} header, from any peer. Warning: TRUSTED_PROXIES (${trustedProxies}) trusts ` +
      "every address, so a client that reaches this server directly can claim any address, to escape the " +
      `per-client limits or to spend another client's.${cloudflare}`
    );
  }
  return `Client address: the ${header} header from a trusted proxy (${trustedProxies}); any other TCP peer is the client itself.`;
}

export function startupNotes(config: Config): string[] {
  const notes = [clientAddressSource(config.clientAddress)];
  if (!config.production && supabaseEmailUnprovable(config)) notes.push(`Warning: ${SUPABASE_EMAIL_UNPROVABLE}`);
  return notes;
}
