// Canonical JSON for audit records: object keys sorted at every depth, no whitespace, so a hash over it is exact.

/** A copy whose objects have their keys in sorted order; a "__proto__" key (JSON.parse makes it an own key) stays a plain key. */
function sortedCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(sortedCopy);
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const item = sortedCopy((value as Record<string, unknown>)[key]);
    if (key === '__proto__') Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
    else copy[key] = item;
  }
  return copy;
}

/** JSON with sorted keys (JSON.stringify puts integer-like keys first, in numeric order: the same for writer and verifier). */
export function canonicalJson(value: unknown): string {
  const text = JSON.stringify(sortedCopy(value)) as string | undefined;
  if (text === undefined) throw new TypeError('audit records hold only JSON values');
  return text;
}
