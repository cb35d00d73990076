// The risk re-evaluation of a live session: the sign-in's recorded signals kept, velocity replaced by the account's failed sign-ins now, scored against the thresholds.
import { describe, expect, it } from 'vitest';
import { riskConfigSchema } from '../../src/config/risk.js';
import { AccountRiskRecords } from '../../src/risk/account-record.js';
import { createSessionRiskReevaluation } from '../../src/risk/session-reevaluation.js';
import { MemoryStore } from '../../src/store/memory.js';

const T0 = Date.UTC(2026, 0, 5, 10);
const WINDOW = 300_000;

function setup(overrides: Record<string, unknown> = {}) {
  let now = T0;
  const store = new MemoryStore({ now: () => now, sweepMs: 0 });
  const config = riskConfigSchema.parse({ weights: { 'velocity.account': 40 }, ...overrides });
  const reevaluate = createSessionRiskReevaluation({ config, store, now: () => now });
  const records = new AccountRiskRecords(store, 86_400_000);
  const fail = (times: number) => Promise.all(Array.from({ length: times }, () => records.addFailure('acct', 'unfamiliar', WINDOW, now)));
  return { reevaluate, fail, advance: (ms: number) => (now += ms) };
}

const signedIn = (signals: string[], level: 'low' | 'medium' | 'high' = 'low') => ({ accountId: 'acct', risk: { level, at: T0, score: 0, signals, upstreamMfa: false } });

describe('session risk re-evaluation', () => {
  it('with no new failures keeps the sign-in level and its recorded signals', async () => {
    const { reevaluate } = setup();
    expect(await reevaluate(signedIn(['device.new+20']))).toEqual({ level: 'low', previous: 'low', score: 20, signals: ['device.new+20'] });
  });

  it('adds velocity.account once the account has failed sign-ins from anywhere; they age out of the window', async () => {
    const { reevaluate, fail, advance } = setup();
    await fail(3);
    expect(await reevaluate(signedIn(['device.new+20']))).toEqual({ level: 'medium', previous: 'low', score: 60, signals: ['device.new+20', 'velocity.account+40'] });
    advance(WINDOW + 1);
    expect((await reevaluate(signedIn(['device.new+20']))).level).toBe('low');
  });

  it('replaces the sign-in\'s velocity signals by the current ones (the sign-in address is not kept)', async () => {
    const { reevaluate } = setup();
    expect(await reevaluate(signedIn(['velocity.ip+25', 'velocity.account+25', 'network.untrusted+30'], 'medium'))).toEqual({ level: 'low', previous: 'medium', score: 30, signals: ['network.untrusted+30'] });
  });

  it('reaches high against the thresholds; a session without a recorded risk counts as low before', async () => {
    const { reevaluate, fail } = setup({ weights: { 'velocity.account': 90 } });
    await fail(3);
    expect(await reevaluate({ accountId: 'acct' })).toMatchObject({ level: 'high', previous: 'low', score: 90 });
  });

  it('ignores malformed recorded entries and, with risk disabled, adds no new signal', async () => {
    const { reevaluate, fail } = setup({ enabled: false });
    await fail(5);
    expect(await reevaluate(signedIn(['garbage', 'device.new+x', 'time.off_hours+10']))).toEqual({ level: 'low', previous: 'low', score: 10, signals: ['time.off_hours+10'] });
  });
});
