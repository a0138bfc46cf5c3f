/** Whether a request is for GET /jobs/summary, the one jobs route a session (not a key) reaches. */
export function isSummaryRoute(req: Request): boolean {
  return /\/jobs\/summary\/?$/.test(new URL(req.url).pathname);
}
