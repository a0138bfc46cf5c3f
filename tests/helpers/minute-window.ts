/**
 * Limits count per minute, in windows aligned to the clock (shared counters).
 * A test that must stay inside one window waits, when fewer than `needMs`
 * are left of the current minute, for the next one to begin (so at most
 * `needMs`).
 */
export async function roomInThisMinute(needMs: number): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 50));
}
