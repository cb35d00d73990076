// The local connector: a user signs in with the username or the email (as in Keycloak and Okta), always as the same subject.
import { describe, expect, it } from 'vitest';
import type { PasswordConnector } from '../../src/connectors/connector.js';
import { localConfigSchema, localConnectorFactory } from '../../src/connectors/local.js';
import { TEST_USER, testUserHash } from '../helpers/broker.js';
import { testConnectorContext } from '../helpers/upstream-oidc.js';

async function connector(users: Record<string, unknown>[]): Promise<PasswordConnector> {
  const config = localConfigSchema.parse({ users });
  return (await localConnectorFactory.create({ id: 'local', name: 'Local', domains: [] }, config, testConnectorContext())) as PasswordConnector;
}

describe('local connector login names', () => {
  it('accepts the username or the email, in any case, and names the account by its username either way', async () => {
    const hash = await testUserHash();
    const local = await connector([
      { username: 'alice', email: 'Alice@Example.com', passwordHash: hash },
      { username: 'bob', passwordHash: hash },
    ]);
    for (const name of ['alice', ' ALICE ', 'alice@example.com', 'ALICE@EXAMPLE.COM']) {
      expect((await local.login(name, TEST_USER.password))?.subject, name).toBe('alice');
    }
    expect(await local.login('alice@example.com', 'wrong password')).toBeUndefined();
    expect((await local.login('bob', TEST_USER.password))?.subject).toBe('bob');
    expect(await local.login('bob@example.com', TEST_USER.password)).toBeUndefined();
  });

  it('gives the username and the email of one account one throttle key, and an unknown name its own', async () => {
    const local = await connector([{ username: 'Alice', email: 'alice@example.com', passwordHash: await testUserHash() }]);
    expect(local.loginKey!('alice@EXAMPLE.com')).toBe('alice');
    expect(local.loginKey!(' ALICE ')).toBe('alice');
    expect(local.loginKey!('Mallory@example.com')).toBe('mallory@example.com');
  });

  it('refuses a configuration where a login name would be ambiguous, naming the field', async () => {
    const hash = await testUserHash();
    const result = localConfigSchema.safeParse({
      users: [
        { username: 'alice', email: 'shared@example.com', passwordHash: hash },
        { username: 'alice2', email: 'SHARED@example.com', passwordHash: hash },
        { username: 'carol@example.com', passwordHash: hash },
        { username: 'carol', email: 'carol@example.com', passwordHash: hash },
      ],
    });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)).toEqual([
      expect.stringMatching(/^users\.1\.email: duplicate email "SHARED@example\.com" \(also users\[0\]\)/),
      expect.stringMatching(/^users\.3\.email: "carol@example\.com" is the username of users\[2\]/),
    ]);
  });

  it('allows a user whose username is its own email', async () => {
    const local = await connector([{ username: 'dave@example.com', email: 'dave@example.com', passwordHash: await testUserHash() }]);
    expect((await local.login('Dave@example.com', TEST_USER.password))?.subject).toBe('dave@example.com');
  });
});
