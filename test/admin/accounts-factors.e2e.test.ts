// `vestibule accounts factors` and `accounts reset-factors` as child processes on Redis: listing without secrets, removal audited.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mfaConfigSchema } from '../../src/config/mfa-schema.js';
import { createMfaFactors, type MfaFactors } from '../../src/mfa/factors.js';
import type { RedisStore } from '../../src/store/redis.js';
import { disposeRedisStore, openRedisStore, REDIS_URL } from '../helpers/redis.js';
import { createSoftwareAuthenticator } from '../helpers/webauthn-authenticator.js';
import { totpCode } from '../mfa/mfa-fixture.js';
import { json, vestibule } from './cli.js';

const ISSUER = 'http://127.0.0.1:3999';
const accountId = 'local:alice';
let store: RedisStore;
let mfa: MfaFactors;
let configFile: string;
let auditFile: string;
let totpSecret: string;

beforeAll(async () => {
  store = await openRedisStore();
  const vaultKey = randomBytes(32);
  mfa = createMfaFactors({ store, vaultKeys: [vaultKey], issuer: ISSUER, productName: 'Vestibule', config: mfaConfigSchema.parse({}) });
  const subject = { accountId, interactionId: 'uid-1' };
  totpSecret = (await mfa.totp.startEnrolment(subject)).secret;
  await mfa.totp.finishEnrolment(subject, { code: totpCode(totpSecret, Date.now()), label: 'Phone' });
  const authenticator = createSoftwareAuthenticator({ origin: ISSUER });
  await mfa.webauthn.finishEnrolment(subject, { response: authenticator.register(await mfa.webauthn.startEnrolment(subject)), label: 'YubiKey' });
  const dir = mkdtempSync(join(tmpdir(), 'vestibule-factors-'));
  configFile = join(dir, 'config.json');
  auditFile = join(dir, 'admin-audit.jsonl');
  writeFileSync(
    configFile,
    JSON.stringify({ issuer: ISSUER, providersDir: 'none', auditLog: auditFile, vaultKeys: [vaultKey.toString('base64url')], store: { type: 'redis', url: REDIS_URL, prefix: store.prefix } }),
  );
});
afterAll(async () => {
  if (store) await disposeRedisStore(store);
});

const adminAudit = () => readFileSync(auditFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

// Each command is a child process that loads tsx and the configuration: seconds apiece on a loaded machine.
describe('accounts factors / reset-factors', { timeout: 180_000 }, () => {
  it('lists the factors by kind and name, with no secret in the output', async () => {
    const listed = await vestibule(['accounts', 'factors', accountId, '--json'], configFile);
    expect(listed.status).toBe(0);
    const body = json<{ accountId: string; factors: { id: string; kind: string; label: string; createdAt: string }[] }>(listed);
    expect(body.factors.map((f) => [f.kind, f.label])).toEqual([['totp', 'Phone'], ['webauthn', 'YubiKey']]);
    expect(listed.stdout).not.toContain(totpSecret);
    expect(listed.stdout).not.toMatch(/secret|publicKey|credentialId/);
    const text = await vestibule(['accounts', 'factors', accountId], configFile);
    expect(text.stdout).toMatch(/^2 second factor\(s\) of local:alice\n {2}\S+ {2}totp {2}"Phone"/);
  });

  it('removes one factor, then the rest; audited at warn; exit 1 when nothing is left; usage errors exit 2', async () => {
    const [totp] = await mfa.credentials.ofKind(accountId, 'totp');
    const one = await vestibule(['accounts', 'reset-factors', accountId, '--factor', totp!.id, '--json'], configFile);
    expect(one.status).toBe(0);
    expect(json(one)).toEqual({ accountId, removed: 1 });
    expect((await mfa.credentials.list(accountId)).map((f) => f.kind)).toEqual(['webauthn']);
    const rest = await vestibule(['accounts', 'reset-factors', accountId], configFile);
    expect(rest.status).toBe(0);
    expect(await mfa.credentials.hasAny(accountId)).toBe(false);
    expect(adminAudit()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'mfa.removed', level: 'warn', reason: 'admin', accountId, details: { removed: 1, factorId: totp!.id } }),
        expect.objectContaining({ event: 'mfa.removed', accountId, details: { removed: 1 } }),
      ]),
    );
    const none = await vestibule(['accounts', 'reset-factors', accountId, '--json'], configFile);
    expect(none.status).toBe(1);
    expect(json(none)).toMatchObject({ error: 'no_factor' });
    expect((await vestibule(['accounts', 'reset-factors'], configFile)).status).toBe(2);
    expect((await vestibule(['accounts', 'reset-factors', accountId, '--factor'], configFile)).status).toBe(2);
  });
});
