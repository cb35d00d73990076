// Small statistics helpers: median, percentiles, ratio and rounding for the results table.

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** broker / peer, or null when either is missing or the peer is zero. */
export function ratio(broker: number | null, peer: number | null): number | null {
  if (broker === null || peer === null || !Number.isFinite(broker) || !Number.isFinite(peer) || peer === 0) return null;
  return broker / peer;
}

/** Rounds to `digits` significant digits (keeps integers above that size whole). */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value) || value === 0) return value;
  const magnitude = Math.floor(Math.log10(Math.abs(value))) + 1;
  const decimals = Math.max(0, digits - magnitude);
  return Number(value.toFixed(decimals));
}
