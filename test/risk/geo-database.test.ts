// The geo signal's reader on a real MMDB file (written by the fixture writer): addresses located, unknown ones not, impossible travel end to end through the engine.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { riskConfigSchema } from '../../src/config/risk.js';
import { createRiskEngine, loadRiskResources } from '../../src/risk/engine.js';
import { openGeoDatabase } from '../../src/risk/signals/geo.js';
import { AccountLocks } from '../../src/session/account-locks.js';
import { SessionRepository } from '../../src/session/federated-session.js';
import { MemoryStore } from '../../src/store/memory.js';
import { writeCityMmdb } from '../helpers/mmdb-writer.js';

const BERLIN = { latitude: 52.52, longitude: 13.405 };
const SHANGHAI = { latitude: 31.2304, longitude: 121.4737 };

function fixture(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'vestibule-geo-')), 'city.mmdb');
  writeFileSync(path, writeCityMmdb([
    { network: '192.0.2.0/24', ...BERLIN },
    { network: '198.51.100.0/25', ...SHANGHAI },
    { network: '2001:db8:1::/48', ...SHANGHAI },
  ]));
  return path;
}

describe('geo database (MaxMind format)', () => {
  it('locates IPv4 and IPv6 addresses of its networks, and nothing else', async () => {
    const lookup = await openGeoDatabase(fixture());
    expect(lookup('192.0.2.77')).toEqual(BERLIN);
    expect(lookup('198.51.100.1')).toEqual(SHANGHAI);
    expect(lookup('198.51.100.200')).toBeUndefined();
    expect(lookup('2001:db8:1::42')).toEqual(SHANGHAI);
    expect(lookup('2001:db8:2::1')).toBeUndefined();
    expect(lookup('10.0.0.1')).toBeUndefined();
    expect(lookup('not an address')).toBeUndefined();
  });

  it('a missing or corrupt database fails at start, not at a sign-in', async () => {
    await expect(loadRiskResources(riskConfigSchema.parse({ geo: { databaseFile: '/nonexistent/city.mmdb' } }))).rejects.toThrow();
    const corrupt = join(mkdtempSync(join(tmpdir(), 'vestibule-geo-')), 'bad.mmdb');
    writeFileSync(corrupt, Buffer.from('not a database'));
    await expect(loadRiskResources(riskConfigSchema.parse({ geo: { databaseFile: corrupt } }))).rejects.toThrow();
  });

  it('the engine flags Berlin then Shanghai half an hour later as impossible travel', async () => {
    const config = riskConfigSchema.parse({ geo: { databaseFile: fixture() } });
    const store = new MemoryStore();
    const engine = createRiskEngine({ config, clientRisk: () => undefined, store, locks: new AccountLocks(store), sessions: new SessionRepository(store, 60_000), terminate: async () => undefined, auditor: { record: () => undefined }, ...(await loadRiskResources(config)) });
    const t = Date.parse('2026-12-01T09:00:00Z');
    const base = { phase: 'sign-in' as const, clientId: 'app', accountId: 'acct-1', connectorId: 'corp', fromTrustedProxy: false };
    const first = await engine.evaluate({ ...base, ip: '192.0.2.10', now: t });
    await engine.recordSuccessfulSignIn({ accountId: 'acct-1', deviceId: first.device.id, ip: '192.0.2.10', now: t });
    const later = await engine.evaluate({ ...base, ip: '198.51.100.20', deviceId: first.device.id, now: t + 30 * 60_000 });
    expect(later.signals).toEqual([expect.objectContaining({ signal: 'geo.impossible_travel', weight: 60 })]);
    expect(later.level).toBe('medium');
    // Twelve hours later the same trip is a flight.
    const flight = await engine.evaluate({ ...base, ip: '198.51.100.20', deviceId: first.device.id, now: t + 12 * 3_600_000 });
    expect(flight.signals).toEqual([]);
    await store.close();
  });
});
