/**
 * The cluster-wide limits count in fixed windows aligned to the clock
 * (counters/shared-counters.ts). A test that spends a budget and then
 * expects a 429 must not straddle a window's end, where the budget starts
 * afresh: `inFreshWindow` waits, when less than `needMs` of the current
 * window is left, for the next one to begin.
 */
export async function inFreshWindow(needMs = 8_000, windowSeconds = 60): Promise<void> {
  const windowMs = windowSeconds * 1000;
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 50));
}
