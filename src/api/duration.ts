/**
 * Durations as people write them in a ladder: `200ms`, `3s`, `1m`, `2h`, or compounds like
 * `1h30m`. The same grammar is accepted by CEL's `duration()` in the CRD, so a file that
 * `ladder validate` accepts is accepted by `kubectl apply` and vice versa.
 */
const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;

/** RE2- and ECMAScript-compatible (no lookahead), so it can go into the CRD schema as-is. */
export const DURATION_PATTERN = '^([0-9]+(ms|s|m|h))+$';
const DURATION_RE = new RegExp(DURATION_PATTERN);
const PART_RE = /([0-9]+)(ms|s|m|h)/g;

/** Milliseconds in `text`, or undefined when it is not a duration like `5m`. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION_RE.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(PART_RE)) total += Number(n) * UNIT_MS[unit as Unit];
  return Number.isSafeInteger(total) ? total : undefined;
}

/**
 * Canonical name of a delay, used in queue names: largest units first, no zero parts
 * (`90s` → `1m30s`, `60000ms` → `1m`). Two spellings of one delay share one rung.
 */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`duration must be a positive integer of ms, got ${ms}`);
  let rest = ms;
  let out = '';
  for (const unit of ['h', 'm', 's', 'ms'] as const) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * UNIT_MS[unit];
  }
  return out;
}
