// Bytes per login in Redis: realistic oidc-provider Session, Grant, tokens and the broker's session record, measured with MEMORY USAGE.
// Run: REDIS_URL=redis://127.0.0.1:6379 npx tsx bench/store-bytes.ts   (uses its own key prefix and removes it afterwards)
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';
import { createOidcAdapter, DEFAULT_OIDC_PREFIX } from '../src/store/oidc-adapter.js';
import { RedisStore } from '../src/store/redis.js';
import { SessionRepository, newSessionId } from '../src/session/federated-session.js';
import { emitResult } from './lib/report.js';

const KEYCLOAK_BYTES_PER_SESSION = 5 * 1024; // Keycloak's published sizing, per session per pod
const TARGET_BYTES_PER_SESSION = 2 * 1024;
const LOGINS = 200;

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// As long as the default "vestibule:" prefix, so key-name bytes are realistic.
const prefix = `vb${randomBytes(4).toString('hex')}:`;
const store = new RedisStore({ connection: { url: redisUrl }, prefix });
await store.ready();
const Adapter = createOidcAdapter(store);
const issuer = 'https://login.example.com';
const clientId = 'billing-portal';
const provider = new Provider(issuer, {
  adapter: Adapter,
  clients: [{ client_id: clientId, client_secret: 'x'.repeat(43), redirect_uris: ['https://billing.example.com/oidc/callback'] }],
  scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
});
const client = await provider.Client.find(clientId);
if (!client) throw new Error('bench client missing');
const sessions = new SessionRepository(store, 8 * 3600_000);

/** One complete login as the broker leaves it in Redis: OIDC Session, Grant, AccessToken, RefreshToken and the FederatedSession. */
async function oneLogin(n: number): Promise<Record<string, string[]>> {
  const accountId = randomBytes(32).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const amr = ['pwd', 'otp'];
  const acr = 'urn:vestibule:acr:mfa';

  const session = new provider.Session();
  session.loginAccount({ accountId, loginTs: now, amr, acr });
  session.ensureClientContainer(clientId);

  const grant = new provider.Grant({ accountId, clientId });
  grant.addOIDCScope('openid offline_access profile email groups');
  grant.addOIDCClaims(['sub', 'email', 'email_verified', 'name', 'groups']);
  const grantId = await grant.save();
  session.grantIdFor(clientId, grantId);
  await session.save(8 * 3600);

  const common = {
    accountId, client, grantId, acr, amr, authTime: now, gty: 'authorization_code', sessionUid: session.uid,
    sid: session.sidFor(clientId), scope: 'openid offline_access profile email groups',
  };
  const accessToken = new provider.AccessToken({ ...common } as never);
  const accessValue = await accessToken.save();
  const refreshToken = new provider.RefreshToken({ ...common, nonce: randomBytes(16).toString('base64url'), expiresWithSession: true, rotations: 0, iiat: now } as never);
  const refreshValue = await refreshToken.save();

  const federated = {
    id: newSessionId(),
    accountId,
    connectorId: 'acme-sso',
    identity: {
      connectorId: 'acme-sso',
      subject: `00u${randomBytes(8).toString('hex')}`,
      email: `user${n}@acme.com`,
      emailVerified: true,
      name: `Example User ${n}`,
      groups: ['engineering', 'billing-admins'],
      acr: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
      amr: ['pwd'],
      authTime: now,
      rawClaims: { sub: 'x', email: `user${n}@acme.com`, name: `Example User ${n}`, groups: ['engineering', 'billing-admins'] },
      connectorData: { sessionIndex: `_${randomBytes(16).toString('hex')}` },
    },
    createdAt: Date.now(),
    lastVerifiedAt: Date.now(),
  };
  await sessions.save(federated, {
    accountId,
    connectorId: 'acme-sso',
    claims: { sub: accountId, email: `user${n}@acme.com`, email_verified: true, name: `Example User ${n}`, groups: ['engineering', 'billing-admins'] },
    updatedAt: Date.now(),
  });

  const o = DEFAULT_OIDC_PREFIX;
  return {
    'oidc Session + sessionUid index': [`${o}Session:${session.jti}`, `${o}sessionUid:${session.uid}`],
    'oidc Grant': [`${o}Grant:${grantId}`],
    'oidc grant index (2 members)': [`${o}grant:${grantId}`],
    'oidc AccessToken': [`${o}AccessToken:${accessValue}`],
    'oidc RefreshToken': [`${o}RefreshToken:${refreshValue}`],
    'FederatedSession record': [`fsession:{${accountId}}:${federated.id}`],
    'account -> sessions index (1 member)': [`account-sessions:{${accountId}}`],
    'account claims (per account)': [`account:{${accountId}}`],
  };
}

const totals = new Map<string, { bytes: number; payload: number }>();
for (let n = 0; n < LOGINS; n += 1) {
  for (const [item, keys] of Object.entries(await oneLogin(n))) {
    let bytes = 0;
    let payload = 0;
    for (const key of keys) {
      const used = await store.client.call('MEMORY', 'USAGE', prefix + key, 'SAMPLES', '0');
      if (typeof used !== 'number') throw new Error(`key ${key} was not written`);
      bytes += used;
      const type = await store.client.type(prefix + key);
      payload += type === 'string' ? Number(await store.client.strlen(prefix + key)) : 0;
    }
    const total = totals.get(item) ?? { bytes: 0, payload: 0 };
    totals.set(item, { bytes: total.bytes + bytes, payload: total.payload + payload });
  }
}

const rows = [...totals].map(([item, { bytes, payload }]) => ({ item, bytes: bytes / LOGINS, payload: payload / LOGINS }));
const sessionItems = ['oidc Session + sessionUid index', 'FederatedSession record', 'account -> sessions index (1 member)'];
const accountItems = ['account claims (per account)'];
const grantItems = ['oidc Grant', 'oidc grant index (2 members)', 'oidc AccessToken', 'oidc RefreshToken'];
const sum = (items: string[]) => rows.filter((row) => items.includes(row.item)).reduce((acc, row) => acc + row.bytes, 0);
const perSession = sum(sessionItems);
const perGrant = sum(grantItems);
const perAccount = sum(accountItems);

console.log(`Redis MEMORY USAGE per login, mean of ${LOGINS} logins (${redisUrl})`);
for (const row of rows) console.log(`  ${row.item.padEnd(36)} ${row.bytes.toFixed(0).padStart(6)} B   (JSON payload ${row.payload.toFixed(0)} B)`);
console.log(`  ${'per session (session-side keys)'.padEnd(36)} ${perSession.toFixed(0).padStart(6)} B   target <= ${TARGET_BYTES_PER_SESSION} B: ${perSession <= TARGET_BYTES_PER_SESSION ? 'met' : 'MISSED'}`);
console.log(`  ${'per session + its account claims'.padEnd(36)} ${(perSession + perAccount).toFixed(0).padStart(6)} B   (one user, one session: account claims are shared by the account's sessions)`);
console.log(`  ${'per grant (grant + its tokens)'.padEnd(36)} ${perGrant.toFixed(0).padStart(6)} B`);
const perLogin = perSession + perAccount + perGrant;
console.log(`  ${'per login (everything)'.padEnd(36)} ${perLogin.toFixed(0).padStart(6)} B`);
console.log(`  ratio to Keycloak's ~${KEYCLOAK_BYTES_PER_SESSION} B per session: session ${(perSession / KEYCLOAK_BYTES_PER_SESSION).toFixed(2)}x, whole login ${(perLogin / KEYCLOAK_BYTES_PER_SESSION).toFixed(2)}x`);

const keycloak = { peer: KEYCLOAK_BYTES_PER_SESSION, note: `peer: Keycloak's published ~${KEYCLOAK_BYTES_PER_SESSION} B per session (not measured here)` };
emitResult({
  scenario: 'store-bytes',
  title: 'Redis bytes per login (MEMORY USAGE)',
  peer: "Keycloak's published sizing",
  rows: [
    { metric: 'Redis bytes per session (the session\'s own keys)', unit: 'bytes', broker: perSession, ...keycloak, ratio: perSession / KEYCLOAK_BYTES_PER_SESSION, target: `<= ${TARGET_BYTES_PER_SESSION} B`, met: perSession <= TARGET_BYTES_PER_SESSION },
    { metric: 'Redis bytes per session + its account claims', unit: 'bytes', broker: perSession + perAccount, peer: null, ratio: null },
    { metric: 'Redis bytes per grant (grant, its index and tokens)', unit: 'bytes', broker: perGrant, peer: null, ratio: null },
    { metric: 'Redis bytes per login (everything)', unit: 'bytes', broker: perLogin, ...keycloak, ratio: perLogin / KEYCLOAK_BYTES_PER_SESSION },
  ],
  method: { logins: LOGINS, redis: redisUrl.replace(/\/\/[^@]*@/, '//'), measure: 'MEMORY USAGE <key> SAMPLES 0, mean per login' },
});

let cursor = '0';
do {
  const [next, keys] = await store.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
  cursor = next;
  if (keys.length > 0) await store.client.del(...keys);
} while (cursor !== '0');
await store.close();
