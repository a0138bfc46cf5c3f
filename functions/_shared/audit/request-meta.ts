/**
 * What the audit log keeps of a request besides the actor: the client
 * address and the user agent, never a header that carries a secret.
 *
 * The address is the first entry of `X-Forwarded-For`, which Supabase's
 * gateway sets for every function call; where nothing sits in front of the
 * functions (the local server), a client could write that header itself, so
 * the address is what the request reported, not proof. Anything that is not
 * an IP address is dropped.
 */
export interface RequestMeta {
  clientAddress: string | null;
  userAgent: string | null;
}

const IP = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]{2,45})$/;

export function requestMeta(req: Request): RequestMeta {
  const first = (req.headers.get("x-forwarded-for") ?? "").split(",")[0].trim();
  const agent = req.headers.get("user-agent");
  return {
    clientAddress: IP.test(first) ? first : null,
    userAgent: agent ? agent.slice(0, 256) : null,
  };
}
