// The SOAR webhook: risk.lockout and risk.high reach a real loopback receiver signed with HMAC-SHA256, retried, never blocking, each delivery's outcome audited.
import { afterEach, describe, expect, it } from 'vitest';
import { Auditor } from '../../src/audit/auditor.js';
import type { AuditRecord, AuditSink } from '../../src/audit/events.js';
import { verifySignature } from '../../src/audit/webhook-signature.js';
import { riskConfigSchema } from '../../src/config/risk.js';
import { createRiskEngine } from '../../src/risk/engine.js';
import { createSoarSink, type SoarWebhookSink } from '../../src/risk/soar-webhook.js';
import { AccountLocks } from '../../src/session/account-locks.js';
import { SessionRepository } from '../../src/session/federated-session.js';
import { MemoryStore } from '../../src/store/memory.js';
import { silent } from '../audit/helpers.js';
import { webhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const SECRET = 'soar-webhook-secret-0123456789abcdefghij';

const receivers: WebhookReceiver[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  for (const receiver of receivers.splice(0)) receiver.close();
});

async function receiver(answer: (index: number) => number | undefined): Promise<WebhookReceiver> {
  const created = await webhookReceiver(answer, '/soar');
  receivers.push(created);
  return created;
}

class Collect implements AuditSink {
  readonly records: AuditRecord[] = [];
  write(record: AuditRecord): void {
    this.records.push(record);
  }
}

function broker(url: string) {
  const config = riskConfigSchema.parse({ networks: { blocked: ['203.0.113.0/24'] }, webhook: { url, secret: SECRET, allowLoopbackHttp: true, backoffMs: 10, maxAttempts: 3 } });
  const soar = createSoarSink(config, silent) as SoarWebhookSink;
  const collected = new Collect();
  const auditor = new Auditor([soar, collected], silent, Date.now, 'sso-1.aaaa0001');
  soar.attach(auditor);
  closers.push(() => auditor.close());
  const store = new MemoryStore();
  closers.push(() => store.close());
  const engine = createRiskEngine({ config, clientRisk: () => undefined, store, locks: new AccountLocks(store), sessions: new SessionRepository(store, 60_000), terminate: async () => undefined, auditor });
  return { engine, soar, collected };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('SOAR webhook', () => {
  it('a smart lockout and a high-risk sign-in are delivered signed; other risk records are not; outcomes are audited', async () => {
    const hook = await receiver(() => 204);
    const { engine, soar, collected } = broker(hook.url);
    for (let i = 0; i < 6; i++) await engine.recordFailedSignIn({ accountId: 'acct-1', ip: '192.0.2.66', connectorId: 'local' });
    await engine.evaluate({ phase: 'sign-in', clientId: 'app', accountId: 'acct-2', connectorId: 'corp', ip: '203.0.113.9', fromTrustedProxy: false });
    await until(() => hook.received.length === 2 && soar.pending === 0);
    const [lockout, high] = hook.received.map((delivery) => ({ delivery, record: JSON.parse(delivery.body) }));
    expect(lockout!.record).toMatchObject({ event: 'risk.lockout', accountId: 'acct-1', ip: '192.0.2.66', reason: 'failed_sign_ins', details: { origin: 'unfamiliar', failures: 6 } });
    expect(high!.record).toMatchObject({ event: 'risk.high', level: 'error', accountId: 'acct-2', details: { severity: 'high', rule: 'score' } });
    for (const { delivery } of [lockout!, high!]) {
      const header = String(delivery.headers['vestibule-signature']);
      expect(verifySignature(SECRET, delivery.body, header, Math.floor(Date.now() / 1000))).toBe(true);
      expect(verifySignature(SECRET, delivery.body.replace('acct-', 'acct-x'), header, Math.floor(Date.now() / 1000))).toBe(false);
      expect(delivery.headers['content-type']).toBe('application/json');
    }
    await until(() => collected.records.filter((record) => record.event === 'risk.webhook').length === 2);
    expect(collected.records.filter((record) => record.event === 'risk.webhook')).toEqual([
      expect.objectContaining({ outcome: 'success', details: expect.objectContaining({ attempts: 1 }) }),
      expect.objectContaining({ outcome: 'success', details: expect.objectContaining({ attempts: 1 }) }),
    ]);
    // risk.evaluated and the webhook's own outcome records never went out.
    expect(hook.received.map((delivery) => JSON.parse(delivery.body).event)).toEqual(['risk.lockout', 'risk.high']);
  });

  it('a 503 is retried with backoff; a receiver that keeps failing is audited as a failed delivery', async () => {
    const flaky = await receiver((index) => (index === 0 ? 503 : 200));
    const first = broker(flaky.url);
    for (let i = 0; i < 6; i++) await first.engine.recordFailedSignIn({ accountId: 'acct-1', ip: '192.0.2.66' });
    await until(() => first.collected.records.some((record) => record.event === 'risk.webhook'));
    expect(flaky.received).toHaveLength(2);
    expect(first.collected.records.find((record) => record.event === 'risk.webhook')).toMatchObject({ outcome: 'success', details: { attempts: 2 } });

    const down = await receiver(() => 500);
    const second = broker(down.url);
    for (let i = 0; i < 6; i++) await second.engine.recordFailedSignIn({ accountId: 'acct-1', ip: '192.0.2.66' });
    await until(() => second.collected.records.some((record) => record.event === 'risk.webhook'));
    expect(down.received).toHaveLength(3);
    expect(second.collected.records.find((record) => record.event === 'risk.webhook')).toMatchObject({ outcome: 'failure', reason: 'delivery_failed', level: 'warn', details: { attempts: 3 } });
  });

  it('a receiver that never answers does not hold up the sign-in that triggered the event', async () => {
    const hanging = await receiver(() => undefined);
    const { engine } = broker(hanging.url);
    const decision = await engine.evaluate({ phase: 'sign-in', clientId: 'app', accountId: 'acct-3', connectorId: 'corp', ip: '203.0.113.1', fromTrustedProxy: false });
    expect(decision.action).toBe('deny');
    await until(() => hanging.received.length === 1);
    expect(JSON.parse(hanging.received[0]!.body).event).toBe('risk.high');
  });

  it('the configuration refuses plain http to a non-loopback receiver and a short secret', () => {
    expect(riskConfigSchema.safeParse({ webhook: { url: 'http://soar.example.com/hook', secret: SECRET } }).success).toBe(false);
    expect(riskConfigSchema.safeParse({ webhook: { url: 'http://soar.example.com/hook', secret: SECRET, allowLoopbackHttp: true } }).success).toBe(false);
    expect(riskConfigSchema.safeParse({ webhook: { url: 'https://soar.example.com/hook', secret: 'short' } }).success).toBe(false);
    expect(riskConfigSchema.safeParse({ webhook: { url: 'https://soar.example.com/hook', secret: SECRET } }).success).toBe(true);
  });
});
