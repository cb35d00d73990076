// The built-in development configuration: demo client and local demo users, with secrets generated at every start.
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../connectors/local.js';

export interface DemoCredentials {
  users: { username: string; password: string }[];
}

const DEMO_USERS = [
  { username: 'alice', email: 'alice@example.com', name: 'Alice Liddell', groups: ['admins', 'staff'] },
  { username: 'bob', email: 'bob@example.com', name: 'Bob Builder', groups: ['staff'] },
];

/** The configuration used by `npm start` without BROKER_CONFIG; the demo app lives at /demo. */
export async function developmentConfig(): Promise<{ file: Record<string, unknown>; credentials: DemoCredentials }> {
  const users = await Promise.all(
    DEMO_USERS.map(async (user) => {
      const password = randomBytes(9).toString('base64url');
      return { password, record: { ...user, passwordHash: await hashPassword(password) } };
    }),
  );
  return {
    credentials: { users: users.map(({ password, record }) => ({ username: record.username, password })) },
    file: {
      providers: [{ id: 'local', type: 'local', name: 'Demo accounts', domains: ['example.com'], config: { users: users.map((u) => u.record) } }],
    },
  };
}

export const DEMO_CLIENT_ID = 'demo-app';

/** The demo relying party served by the broker itself at /demo, with a secret generated at every start. */
export function demoClient(issuer: string) {
  return {
    clientId: DEMO_CLIENT_ID,
    name: 'Vestibule demo app',
    clientSecret: randomBytes(32).toString('base64url'),
    public: false,
    redirectUris: [`${issuer}/demo/callback`],
    postLogoutRedirectUris: [`${issuer}/demo`],
    skipConsent: false,
    introspects: [],
    idTokenSignedResponseAlg: 'ES256' as const,
    scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
  };
}
