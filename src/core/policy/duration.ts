/**
 * Durations in policy files: `30s`, `15m`, `1h`, `1h30m`, `2d`. Whole seconds only, because
 * approval timeouts and throttle windows are stored and compared in seconds.
 */

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };
const DURATION = /^(?:\d+[smhd])+$/;
const PART = /(\d+)([smhd])/g;

/** Seconds in `text`, or null when it is not a duration of at least one second. */
export function parseDurationSeconds(text: string): number | null {
  if (!DURATION.test(text)) return null;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) {
    total += Number(amount) * (UNIT_SECONDS[unit ?? ''] ?? 0);
  }
  return total > 0 && Number.isSafeInteger(total) ? total : null;
}
