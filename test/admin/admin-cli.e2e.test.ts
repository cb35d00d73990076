// The admin command line against a running broker's Redis: sessions revoked and accounts locked through terminate(), keys listed and rotated, help, --json and usage errors.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountLocks } from '../../src/session/account-locks.js';
import type { RedisStore } from '../../src/store/redis.js';
import { Browser } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { disposeRedisStore, openRedisStore, REDIS_URL } from '../helpers/redis.js';
import { authorizationRequest, discoverRp, loginAndExchange } from '../helpers/rp.js';
import { expectGrantRevoked, OFFLINE, userinfoStatus } from '../helpers/token-endpoint.js';
import { json, vestibule } from './cli.js';

let store: RedisStore;
let broker: TestBroker;
let configFile: string;
let auditFile: string;
const vaultKey = randomBytes(32).toString('base64url');

beforeAll(async () => {
  store = await openRedisStore();
  broker = await startBroker({ store, config: { vaultKeys: [vaultKey] } });
  const dir = mkdtempSync(join(tmpdir(), 'vestibule-admin-'));
  configFile = join(dir, 'config.json');
  auditFile = join(dir, 'admin-audit.jsonl');
  writeFileSync(
    configFile,
    JSON.stringify({
      issuer: broker.issuer,
      providersDir: 'none',
      auditLog: auditFile,
      vaultKeys: [vaultKey],
      store: { type: 'redis', url: REDIS_URL, prefix: store.prefix },
      clients: [{ clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, redirectUris: [TEST_CLIENT.redirectUri] }],
    }),
  );
});
afterAll(async () => {
  await broker?.close();
  if (store) await disposeRedisStore(store);
});

/** The audit records the admin commands wrote (the deployment's audit file). */
const adminAudit = () => readFileSync(auditFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

type SessionList = { accountId: string; sessions: { sessionId: string; connectorId: string; grants: number }[] };

async function signIn() {
  const { tokens } = await loginAndExchange(broker.issuer, { params: OFFLINE });
  const accountId = tokens.claims()!.sub;
  return { tokens: { access_token: tokens.access_token, refresh_token: tokens.refresh_token! }, accountId };
}

/** Signs in through the login form up to the page the broker answers after the password (redirect or error). */
async function passwordPage() {
  const config = await discoverRp(broker.issuer);
  const request = await authorizationRequest(config);
  const browser = new Browser();
  const first = await browser.follow(request.url.href, {}, TEST_CLIENT.redirectUri);
  return browser.submit(first, '/login', { username: TEST_USER.username, password: TEST_USER.password }, TEST_CLIENT.redirectUri);
}

describe('sessions', () => {
  it('list shows the live session; revoke <account> <session> ends it and its tokens die; a second revoke exits 1', async () => {
    const { tokens, accountId } = await signIn();
    expect(await userinfoStatus(broker, tokens.access_token)).toBe(200);
    const listed = await vestibule(['sessions', 'list', '--account', accountId, '--json'], configFile);
    expect(listed.status).toBe(0);
    const list = json<SessionList>(listed);
    expect(list.accountId).toBe(accountId);
    expect(list.sessions.length).toBeGreaterThanOrEqual(1);
    const [session] = list.sessions;
    expect(session).toMatchObject({ connectorId: 'local', grants: 1 });

    const revoked = await vestibule(['sessions', 'revoke', accountId, session!.sessionId, '--json'], configFile);
    expect(revoked.status).toBe(0);
    expect(json(revoked)).toEqual({ accountId, ended: [session!.sessionId] });
    await expectGrantRevoked(broker, tokens);
    expect(json<SessionList>(await vestibule(['sessions', 'list', '--account', accountId, '--json'], configFile)).sessions.map((s) => s.sessionId)).not.toContain(session!.sessionId);
    expect(adminAudit()).toContainEqual(expect.objectContaining({ event: 'session.ended', reason: 'admin_revoked', accountId }));

    const again = await vestibule(['sessions', 'revoke', accountId, session!.sessionId], configFile);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`no live session ${session!.sessionId}`);
  });

  it('revoke --account ends every session of the account', async () => {
    const first = await signIn();
    const second = await signIn();
    const revoked = await vestibule(['sessions', 'revoke', '--account', first.accountId, '--json'], configFile);
    expect(revoked.status).toBe(0);
    expect(json<{ ended: string[] }>(revoked).ended.length).toBeGreaterThanOrEqual(2);
    await expectGrantRevoked(broker, first.tokens);
    await expectGrantRevoked(broker, second.tokens);
  });
});

describe('accounts', () => {
  it('lock ends the sessions (tokens die) and refuses sign-in with a safe page; show reports it; unlock lets the user in again', async () => {
    const { tokens, accountId } = await signIn();
    const locked = await vestibule(['accounts', 'lock', accountId, '--reason', 'stolen laptop (ticket 42)', '--for', '1d', '--json'], configFile);
    expect(locked.status).toBe(0);
    expect(json(locked)).toMatchObject({ accountId, locked: true, reason: 'stolen laptop (ticket 42)', expiresAt: expect.any(String) });
    await expectGrantRevoked(broker, tokens);
    expect(adminAudit()).toContainEqual(expect.objectContaining({ event: 'session.ended', reason: 'account_locked', accountId }));
    expect(adminAudit()).toContainEqual(expect.objectContaining({ event: 'account.locked', accountId, details: expect.objectContaining({ note: 'stolen laptop (ticket 42)', sessionsEnded: 1 }) }));

    const refused = await passwordPage();
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('This account is locked');
    expect(refused.body).not.toContain('stolen laptop');
    expect(broker.audit).toContainEqual(expect.objectContaining({ event: 'login.failure', reason: 'account_locked', accountId }));

    const shown = await vestibule(['accounts', 'show', accountId, '--json'], configFile);
    expect(shown.status).toBe(0);
    expect(json(shown)).toMatchObject({ accountId, connectorId: 'local', locked: { reason: 'stolen laptop (ticket 42)' }, sessions: [] });

    const unlocked = await vestibule(['accounts', 'unlock', accountId, '--json'], configFile);
    expect(unlocked.status).toBe(0);
    expect(json(unlocked)).toEqual({ accountId, locked: false });
    expect(adminAudit()).toContainEqual(expect.objectContaining({ event: 'account.unlocked', accountId }));
    const after = await signIn();
    expect(await userinfoStatus(broker, after.tokens.access_token)).toBe(200);
    expect((await vestibule(['accounts', 'unlock', accountId], configFile)).status).toBe(1);
  });

  it('findAccount refuses the tokens of a locked account even while its session lives', async () => {
    const { tokens, accountId } = await signIn();
    const locks = new AccountLocks(store);
    await locks.lock(accountId, 'test');
    expect(await userinfoStatus(broker, tokens.access_token)).toBe(401);
    await locks.unlock(accountId);
    expect(await userinfoStatus(broker, tokens.access_token)).toBe(200);
  });

  it('show exits 1 for an account the broker has never seen', async () => {
    const result = await vestibule(['accounts', 'show', 'local:nobody', '--json'], configFile);
    expect(result.status).toBe(1);
    expect(json(result)).toMatchObject({ error: 'no_such_account' });
  });
});

describe('keys', () => {
  it('list shows the keys the running broker created; rotate publishes next keys once, a second rotate exits 1', async () => {
    const listed = await vestibule(['keys', 'list', '--json'], configFile);
    expect(listed.status).toBe(0);
    const before = json<{ keys: { kid: string; alg: string; state: string; activatesAt: string }[] }>(listed).keys;
    expect(before.map((k) => [k.alg, k.state])).toEqual([
      ['ES256', 'active'],
      ['RS256', 'active'],
    ]);
    const jwks = (await (await fetch(`${broker.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual(before.map((k) => k.kid).sort());

    const rotated = await vestibule(['keys', 'rotate', '--json'], configFile);
    expect(rotated.status).toBe(0);
    const added = json<{ rotated: boolean; added: { state: string; activatesAt: string }[] }>(rotated).added;
    expect(added.map((k) => k.state)).toEqual(['next', 'next']);
    // keys.publishBeforeUseSeconds (default one day) after now.
    expect(Date.parse(added[0]!.activatesAt) - Date.now()).toBeGreaterThan(86_000_000);

    expect(adminAudit()).toContainEqual(expect.objectContaining({ event: 'keys.rotated', outcome: 'success', details: expect.objectContaining({ activatesAt: added[0]!.activatesAt }) }));
    const again = await vestibule(['keys', 'rotate'], configFile);
    expect(again.status).toBe(1);
    expect(adminAudit()).toContainEqual(expect.objectContaining({ event: 'keys.rotated', outcome: 'failure', reason: 'next_pending' }));
    expect(again.stderr).toContain('a next key is already published');
    const text = await vestibule(['keys', 'list'], configFile);
    expect(text.stdout.split('\n').filter((line) => / next /.test(line))).toHaveLength(2);
  });
});

describe('keys with a jwksFile', () => {
  it('rotate refuses (exit 1) and says to edit the file; list says the file signs', async () => {
    const { generateSigningJwks } = await import('../../src/issuer/keys.js');
    const withFile = join(configFile, '..', 'with-file.json');
    writeFileSync(join(configFile, '..', 'jwks.json'), JSON.stringify(await generateSigningJwks()));
    writeFileSync(withFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, 'utf8')), jwksFile: 'jwks.json' }));
    const rotated = await vestibule(['keys', 'rotate', '--json'], withFile);
    expect(rotated.status).toBe(1);
    expect(json(rotated)).toMatchObject({ error: 'jwks_file' });
    expect(rotated.stderr).toContain('rotate by adding the new key to the file, then SIGHUP');
    const listed = await vestibule(['keys', 'list'], withFile);
    expect(listed.status).toBe(0);
    expect(listed.stdout).toContain('the broker signs with it, not with these keys');
  });
});

describe('audit records of admin commands with the stdout sink', () => {
  it('go to stderr, so stdout stays the one --json answer', async () => {
    const { auditLog: _legacy, ...base } = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    const withStdout = join(configFile, '..', 'with-stdout.json');
    writeFileSync(withStdout, JSON.stringify({ ...base, audit: { stdout: true, instance: 'stdout-test' } }));
    // Audited whether it publishes next keys or finds some already pending (exit 0 or 1).
    const rotated = await vestibule(['keys', 'rotate', '--json'], withStdout);
    expect(json(rotated)).toBeTypeOf('object');
    const records = rotated.stderr.split('\n').filter((line) => line.startsWith('{"')).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records).toContainEqual(expect.objectContaining({ event: 'keys.rotated', instance: expect.stringMatching(/^stdout-test-admin\./) }));
  });
});

describe('help, --json and usage errors', () => {
  it('--help at every level exits 0: the command list, a group, a command', async () => {
    const [top, group, command] = await Promise.all([vestibule(['--help']), vestibule(['sessions', '--help']), vestibule(['accounts', 'lock', '--help'])]);
    for (const result of [top, group, command]) expect(result.status).toBe(0);
    for (const name of ['check-config', 'keys rotate', 'sessions revoke', 'accounts lock', 'audit verify']) expect(top.stdout).toContain(name);
    expect(group.stdout).toContain('sessions list');
    expect(group.stdout).not.toContain('keys list');
    expect(command.stdout).toContain('usage: vestibule accounts lock <accountId> --reason <text>');
  });

  it('--json output of the offline commands is one JSON object', async () => {
    const [secret, check] = await Promise.all([vestibule(['generate-secret', '--json']), vestibule(['check-config', '--json'], configFile)]);
    expect(json<{ secret: string }>(secret).secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(json(check)).toMatchObject({ ok: true, issuer: broker.issuer, store: 'redis' });
  });

  it.each([
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['keys', 'spin'], 'unknown command "keys spin"'],
    [[], 'vestibule: a command is needed'],
    [['sessions'], 'vestibule sessions: a command is needed'],
    [['sessions', 'revoke', 'only-an-account'], 'give <accountId> <sessionId>, or --account <accountId>'],
    [['sessions', 'revoke', 'a', 'b', '--account', 'c'], 'not both'],
    [['sessions', 'list'], '--account is required'],
    [['accounts', 'lock', 'local:alice'], '--reason is required'],
    [['accounts', 'lock', 'local:alice', '--reason', 'x', '--for', '5y'], 'is not a duration'],
    [['accounts', 'show'], 'missing argument'],
    [['accounts', 'show', 'a', 'b'], 'unexpected argument "b"'],
    [['keys', 'list', '--bogus'], "Unknown option '--bogus'"],
  ])('vestibule %j exits 2 with a clear message and the usage', async (args, message) => {
    const result = await vestibule(args, configFile);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('usage: vestibule');
    expect(result.stdout).toBe('');
  });

  it('a command needing the store exits 1 on the memory store, with the reason', async () => {
    const result = await vestibule(['keys', 'list', '--json']);
    expect(result.status).toBe(1);
    expect(json(result)).toMatchObject({ error: 'no_deployment' });
    expect(result.stderr).toContain('the configured store is "memory"');
  });
});
