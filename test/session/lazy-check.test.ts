// The lazy check's single flight on every store backend: one check per overdue session across instances, a lapsed claim is taken over, a session not due is not checked.
import { afterEach, describe, expect, it } from 'vitest';
import type { FederatedSession } from '../../src/session/federated-session.js';
import { createLazyCheck, liveAfterLazyCheck } from '../../src/session/lazy-check.js';
import type { CheckOutcome } from '../../src/session/reverify.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';

const NOW = 1_800_000_000_000;

function session(id: string, nextCheckAt: number): FederatedSession {
  return { id, accountId: 'acct', connectorId: 'acme', identity: { connectorId: 'acme', subject: 's', groups: [], amr: [], rawClaims: {} }, createdAt: NOW - 1000, lastVerifiedAt: NOW - 1000, nextCheckAt };
}

describe.each(STORE_BACKENDS)('lazy check on %s', (_name, create) => {
  let store: KeyValueStore | undefined;
  afterEach(async () => closeTestStore(store));

  /** Two "instances": each its own lazy check over one store, sharing one session table and one counter of checks. */
  async function world(records: FederatedSession[], outcome: CheckOutcome, checkMs = 30) {
    store = await create();
    const table = new Map(records.map((record) => [record.id, record]));
    const checked: string[] = [];
    const check = async (record: FederatedSession): Promise<CheckOutcome> => {
      checked.push(record.id);
      await new Promise((resolve) => setTimeout(resolve, checkMs));
      if (outcome === 'ended') table.delete(record.id);
      else table.set(record.id, { ...record, nextCheckAt: NOW + 900_000 });
      return outcome;
    };
    let readCount = 0;
    const sessions = {
      get: async (_account: string, id: string) => {
        readCount++;
        return table.get(id);
      },
    };
    const shared = store;
    const make = () => createLazyCheck({ store: shared, sessions, check, now: () => NOW, pollMs: 5 });
    return { checked, instances: [make(), make()] as const, reads: () => readCount };
  }

  it('a session not yet due is live without a check', async () => {
    const { checked, instances } = await world([session('a', NOW + 1)], 'verified');
    expect(await instances[0]('acct', 'a')).toBe('live');
    expect(checked).toEqual([]);
  });

  it('a session that is gone is ended without a check', async () => {
    const { checked, instances } = await world([], 'verified');
    expect(await instances[0]('acct', 'missing')).toBe('ended');
    expect(checked).toEqual([]);
  });

  it('concurrent calls on two instances check an overdue session once and all read its outcome', async () => {
    const { checked, instances } = await world([session('a', NOW)], 'verified');
    const verdicts = await Promise.all([...instances, ...instances].map((lazy) => lazy('acct', 'a')));
    expect(verdicts).toEqual(['live', 'live', 'live', 'live']);
    expect(checked).toEqual(['a']);
  });

  it('an ended outcome reaches the waiters of the other instance', async () => {
    const { checked, instances } = await world([session('a', NOW - 5)], 'ended');
    const verdicts = await Promise.all(instances.map((lazy) => lazy('acct', 'a')));
    expect(verdicts).toEqual(['ended', 'ended']);
    expect(checked).toEqual(['a']);
  });

  it('a claim whose holder died lapses, and the next caller checks', async () => {
    const { checked, instances } = await world([session('a', NOW)], 'verified');
    await store!.setIfAbsent(`lazy-check:{acct}:a:${NOW}`, 'checking:dead-holder', 60);
    expect(await instances[0]('acct', 'a')).toBe('live');
    expect(checked).toEqual(['a']);
  });

  it('a failing check releases its claim and rethrows; the next call checks again', async () => {
    const shared = await create();
    store = shared;
    let calls = 0;
    const record = session('a', NOW);
    const lazy = createLazyCheck({
      store: shared,
      sessions: { get: async () => record },
      check: async () => {
        calls += 1;
        if (calls === 1) throw new Error('store write failed');
        return 'verified';
      },
      now: () => NOW,
      pollMs: 5,
    });
    await expect(lazy('acct', 'a')).rejects.toThrow('store write failed');
    expect(await lazy('acct', 'a')).toBe('live');
    expect(calls).toBe(2);
  });

  it('liveAfterLazyCheck counts the sessions that may still be used, checking the records it is handed without reading them again', async () => {
    const records = [session('a', NOW + 10), session('b', NOW)];
    const { instances, checked, reads } = await world(records, 'ended');
    expect(await liveAfterLazyCheck(instances[0], records)).toBe(1);
    expect(checked).toEqual(['b']);
    // Only the overdue session is read again, under its claim; the one not yet due is answered from the record handed in.
    expect(reads()).toBe(1);
  });

  it('a session that is gone is ended', async () => {
    const { instances } = await world([], 'verified');
    expect(await instances[0]('acct', 'gone')).toBe('ended');
  });
});
