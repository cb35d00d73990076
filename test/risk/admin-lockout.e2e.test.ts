// The operator's view of a smart lockout through the real command line on Redis: `accounts show` lists the origin's sign-in lock, `accounts unlock` lifts it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountLocks } from '../../src/session/account-locks.js';
import type { RedisStore } from '../../src/store/redis.js';
import { json, vestibule } from '../admin/cli.js';
import { disposeRedisStore, openRedisStore, REDIS_URL } from '../helpers/redis.js';

let store: RedisStore;
let configFile: string;

beforeAll(async () => {
  store = await openRedisStore();
  configFile = join(mkdtempSync(join(tmpdir(), 'vestibule-lockout-')), 'config.json');
  writeFileSync(configFile, JSON.stringify({ issuer: 'http://127.0.0.1:9', providersDir: 'none', auditLog: 'off', store: { type: 'redis', url: REDIS_URL, prefix: store.prefix } }));
});
afterAll(async () => {
  if (store) await disposeRedisStore(store);
});

describe('smart lockout at the command line', () => {
  it('show lists the unfamiliar origin\'s sign-in lock (the account itself is not locked); unlock lifts it', async () => {
    const locks = new AccountLocks(store);
    await locks.lockSignIn('local:alice', 'unfamiliar', 'failed_sign_ins', 900_000);
    const shown = await vestibule(['accounts', 'show', 'local:alice', '--json'], configFile);
    expect(shown.status).toBe(0);
    expect(json(shown)).toMatchObject({ accountId: 'local:alice', locked: false, signInLocks: [{ origin: 'unfamiliar', reason: 'failed_sign_ins' }] });
    const unlocked = await vestibule(['accounts', 'unlock', 'local:alice', '--json'], configFile);
    expect(unlocked.status).toBe(0);
    expect(await locks.held('local:alice')).toEqual({});
    expect((await vestibule(['accounts', 'unlock', 'local:alice'], configFile)).status).toBe(1);
  }, 120_000);
});
