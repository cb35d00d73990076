// Signing-key states from dates (pure): next before activation, one active per alg, retired until its tokens have expired, then gone.
import { describe, expect, it } from 'vitest';
import { expiredKids, keyStatuses, nextTransition, ringFingerprint, type KeyRecord } from '../../src/issuer/key-ring.js';

const key = (kid: string, alg: string, activatesAt: number): KeyRecord => ({ kid, alg, activatesAt, createdAt: activatesAt - 10, publicJwk: { kid } });
const RETENTION = 100;

describe('keyStatuses', () => {
  const ring = [key('es-1', 'ES256', 0), key('rs-1', 'RS256', 0), key('es-2', 'ES256', 1000), key('rs-2', 'RS256', 1000)];

  it('before activation: the old keys are active and listed first, the new ones are next', () => {
    const statuses = keyStatuses(ring, 999, RETENTION);
    expect(statuses.map((s) => [s.kid, s.state])).toEqual([
      ['es-1', 'active'],
      ['rs-1', 'active'],
      ['es-2', 'next'],
      ['rs-2', 'next'],
    ]);
  });

  it('from activation: the new keys sign (first) and the old ones are retired until activation + retention', () => {
    const statuses = keyStatuses(ring, 1000, RETENTION);
    expect(statuses.map((s) => [s.kid, s.state])).toEqual([
      ['es-2', 'active'],
      ['rs-2', 'active'],
      ['es-1', 'retired'],
      ['rs-1', 'retired'],
    ]);
    expect(statuses[2]).toMatchObject({ retiredAt: 1000, removeAt: 1000 + RETENTION });
  });

  it('after retention the old keys are no longer published, and their records may go', () => {
    expect(keyStatuses(ring, 1000 + RETENTION - 1, RETENTION)).toHaveLength(4);
    expect(keyStatuses(ring, 1000 + RETENTION, RETENTION).map((s) => s.kid)).toEqual(['es-2', 'rs-2']);
    expect(expiredKids(ring, 1000 + RETENTION, RETENTION).sort()).toEqual(['es-1', 'rs-1']);
    expect(expiredKids(ring, 1000, RETENTION)).toEqual([]);
  });

  it('names the next moment the served keys change, and a fingerprint that changes with them', () => {
    expect(nextTransition(keyStatuses(ring, 500, RETENTION), 500)).toBe(1000);
    expect(nextTransition(keyStatuses(ring, 1000, RETENTION), 1000)).toBe(1000 + RETENTION);
    expect(nextTransition(keyStatuses(ring, 2000, RETENTION), 2000)).toBeUndefined();
    const fingerprints = [500, 1000, 1000 + RETENTION].map((now) => ringFingerprint(keyStatuses(ring, now, RETENTION)));
    expect(new Set(fingerprints).size).toBe(3);
  });

  it('two keys activating at the same moment (two rotations at once) resolve the same way everywhere: by kid', () => {
    const tie = [key('b', 'ES256', 5), key('a', 'ES256', 5)];
    expect(keyStatuses(tie, 5, RETENTION).map((s) => [s.kid, s.state])).toEqual([
      ['b', 'active'],
      ['a', 'retired'],
    ]);
    expect(keyStatuses([...tie].reverse(), 5, RETENTION)[0]?.kid).toBe('b');
  });
});
