// Signing-key states from their dates (pure): next until it activates, active while newest of its alg, retired until its tokens expired.
import type { JWK } from 'jose';

/** One signing key as the store keeps it (the private part sealed elsewhere); dates in ms since epoch. */
export interface KeyRecord {
  kid: string;
  alg: string;
  /** The public JWK, published in the JWKS. */
  publicJwk: JWK;
  createdAt: number;
  /** When it starts signing; before that it is only published (state `next`). */
  activatesAt: number;
}

export type KeyState = 'next' | 'active' | 'retired';

export interface KeyStatus extends KeyRecord {
  state: KeyState;
  /** When a newer key of its alg took over (retired keys only). */
  retiredAt?: number;
  /** When it leaves the JWKS: every token it signed has expired by then (retired keys only). */
  removeAt?: number;
}

/**
 * Every key still published, active keys first (oidc-provider signs with the first key of an alg). Per alg the newest key
 * whose activatesAt has passed is active; newer ones are next; older ones are retired from their successor's
 * activation and dropped once `retentionMs` (longest token lifetime + clock skew) has passed since then.
 */
export function keyStatuses(records: readonly KeyRecord[], now: number, retentionMs: number): KeyStatus[] {
  const byAlg = new Map<string, KeyRecord[]>();
  for (const record of records) byAlg.set(record.alg, [...(byAlg.get(record.alg) ?? []), record]);
  const statuses: KeyStatus[] = [];
  for (const group of byAlg.values()) {
    const ordered = [...group].sort((a, b) => a.activatesAt - b.activatesAt || a.kid.localeCompare(b.kid));
    const activeIndex = ordered.filter((record) => record.activatesAt <= now).length - 1;
    ordered.forEach((record, index) => {
      if (index > activeIndex) return statuses.push({ ...record, state: 'next' });
      if (index === activeIndex) return statuses.push({ ...record, state: 'active' });
      const retiredAt = (ordered[index + 1] as KeyRecord).activatesAt;
      const removeAt = retiredAt + retentionMs;
      if (now < removeAt) statuses.push({ ...record, state: 'retired', retiredAt, removeAt });
    });
  }
  const rank: Record<KeyState, number> = { active: 0, next: 1, retired: 2 };
  return statuses.sort((a, b) => rank[a.state] - rank[b.state] || a.alg.localeCompare(b.alg) || b.activatesAt - a.activatesAt);
}

/** Keys whose records can be deleted: no longer published. */
export function expiredKids(records: readonly KeyRecord[], now: number, retentionMs: number): string[] {
  const kept = new Set(keyStatuses(records, now, retentionMs).map((status) => status.kid));
  return records.filter((record) => !kept.has(record.kid)).map((record) => record.kid);
}

/** The next moment a state changes (a next key activates or a retired key leaves), to refresh the issuer then. */
export function nextTransition(statuses: readonly KeyStatus[], now: number): number | undefined {
  const moments = statuses.flatMap((status) => (status.state === 'next' ? [status.activatesAt] : status.removeAt !== undefined ? [status.removeAt] : [])).filter((at) => at > now);
  return moments.length > 0 ? Math.min(...moments) : undefined;
}

/** Identifies what the issuer must serve: the published kids in signing order and which of them sign. */
export function ringFingerprint(statuses: readonly KeyStatus[]): string {
  return statuses.map((status) => `${status.kid}:${status.state === 'active' ? 'a' : 'p'}`).join(',');
}
