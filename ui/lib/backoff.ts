/** The delay before reconnect attempt `attempt` (1, 2, …) of a live stream: doubling from
 * half a second up to 30 s, ±20 % jitter so many browsers do not come back at once. */
export function backoff(attempt: number, draw: number = Math.random()): number {
  const base = Math.min(30_000, 500 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * draw));
}
