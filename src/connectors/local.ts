// The local connector: static users from configuration, passwords verified against argon2id hashes.
import { createHash, randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { z } from 'zod';
import type { AccountCheckConnector, Identity, PasswordConnector } from './connector.js';
import type { ConnectorFactory } from './registry.js';

const argon2idHash = z
  .string()
  .regex(/^\$argon2id\$v=\d+\$[mtp]=\d+,[mtp]=\d+,[mtp]=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/, 'must be an argon2id hash (make one with `npm run hash-password`)');

const localUserSchema = z.strictObject({
  username: z.string().min(1).max(256),
  passwordHash: argon2idHash,
  email: z.email().optional(),
  emailVerified: z.boolean().default(true),
  name: z.string().max(256).optional(),
  groups: z.array(z.string().min(1)).default([]),
});

export const localConfigSchema = z
  .strictObject({ users: z.array(localUserSchema).min(1) })
  .superRefine((config, ctx) => {
    const usernames = new Map<string, number>();
    config.users.forEach((user, index) => {
      const key = user.username.toLowerCase();
      if (usernames.has(key)) ctx.addIssue({ code: 'custom', path: ['users', index, 'username'], message: `duplicate username "${user.username}"` });
      else usernames.set(key, index);
    });
    // A user may also sign in with the email, so an email names one user and no other user's username.
    const emails = new Map<string, number>();
    config.users.forEach((user, index) => {
      if (!user.email) return;
      const key = user.email.toLowerCase();
      const owner = usernames.get(key);
      if (emails.has(key)) {
        ctx.addIssue({ code: 'custom', path: ['users', index, 'email'], message: `duplicate email "${user.email}" (also users[${emails.get(key)}]); users sign in with their email too` });
      } else if (owner !== undefined && owner !== index) {
        ctx.addIssue({ code: 'custom', path: ['users', index, 'email'], message: `"${user.email}" is the username of users[${owner}]; users sign in with their email too` });
      } else emails.set(key, index);
    });
  });

export type LocalUser = z.output<typeof localUserSchema>;

export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Hashes a password the way the local connector expects (argon2id, OWASP parameters). */
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

/** A short fingerprint of a password hash: a session remembers which password it signed in with, not the hash. */
const credentialOf = (user: LocalUser) => createHash('sha256').update(user.passwordHash).digest('base64url').slice(0, 22);

class LocalConnector implements PasswordConnector, AccountCheckConnector {
  readonly type = 'local';
  /** Every login name (username, and email when set), lower-cased, to its user. */
  private readonly users: Map<string, LocalUser>;

  constructor(
    readonly id: string,
    readonly displayName: string,
    readonly domains: readonly string[],
    users: LocalUser[],
    private readonly decoyHash: string,
    private readonly now: () => number,
  ) {
    this.users = new Map(users.flatMap((user) => (user.email ? [[user.email.toLowerCase(), user] as const] : [])));
    for (const user of users) this.users.set(user.username.toLowerCase(), user);
  }

  /** The account's username for its username or email (any case); an unknown name as typed, trimmed and lower-cased. */
  loginKey(login: string): string {
    const key = login.trim().toLowerCase();
    return this.users.get(key)?.username.toLowerCase() ?? key;
  }

  /** The username of a login name (username or email, any case); undefined for a name no user has. */
  subjectOf(login: string): string | undefined {
    return this.users.get(login.trim().toLowerCase())?.username;
  }

  /** Re-verification: the user is still configured, with the password hash the session signed in with. */
  accountStillValid(identity: Identity): boolean {
    const user = this.users.get(identity.subject.toLowerCase());
    return user !== undefined && user.username === identity.subject && identity.connectorData?.credential === credentialOf(user);
  }

  /** `login` is the username or the email (as Keycloak and Okta accept); the subject is always the username. */
  async login(login: string, password: string): Promise<Identity | undefined> {
    const user = this.users.get(login.trim().toLowerCase());
    // Verify against a decoy for unknown users so both failures take the same time.
    const ok = await argon2.verify(user?.passwordHash ?? this.decoyHash, password).catch(() => false);
    if (!user || !ok) return undefined;
    return {
      connectorId: this.id,
      subject: user.username,
      email: user.email,
      emailVerified: user.email ? user.emailVerified : undefined,
      name: user.name,
      groups: user.groups,
      acr: 'urn:vestibule:acr:password',
      amr: ['pwd'],
      authTime: Math.floor(this.now() / 1000),
      rawClaims: {},
      connectorData: { credential: credentialOf(user) },
    };
  }
}

export const localConnectorFactory: ConnectorFactory<typeof localConfigSchema> = {
  type: 'local',
  configSchema: localConfigSchema,
  async create(base, config, context) {
    const decoyHash = await hashPassword(randomBytes(16).toString('base64url'));
    return new LocalConnector(base.id, base.name, base.domains, config.users, decoyHash, context.now);
  },
};
